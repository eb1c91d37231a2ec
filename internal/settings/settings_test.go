package settings

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var errBad = errors.New("bad config")

type testConfig struct {
	Count   int
	Wait    *time.Duration
	Ratio   *float64
	On      bool
	Parts   int32
	Handler func()
}

type testLower struct {
	Count int
	Wait  time.Duration
	Ratio float64
}

func testTable() *Table[testConfig, testLower] {
	return New("test", errBad,
		Val[testConfig, testLower, int32]{Name: "parts", Field: "Parts", Get: func(c *testConfig) *int32 { return &c.Parts },
			Codec: Int32, Default: 1, Check: AtLeast[int32](1), Argument: true, Hint: "it is an argument"},
		Val[testConfig, testLower, int]{Name: "count", Field: "Count", Get: func(c *testConfig) *int { return &c.Count },
			Codec: Int, Default: 10, Check: Between(1, 100), Lower: func(l *testLower, v int) { l.Count = v }, Doc: "a count"},
		Ptr[testConfig, testLower, time.Duration]{Name: "wait.ms", Field: "Wait", Get: func(c *testConfig) **time.Duration { return &c.Wait },
			Codec: Ms, Default: time.Second, Check: MsAtLeast(0), Lower: func(l *testLower, v time.Duration) { l.Wait = v }, Doc: "a wait"},
		Ptr[testConfig, testLower, float64]{Name: "ratio", Field: "Ratio", Get: func(c *testConfig) **float64 { return &c.Ratio },
			Codec: Float, Default: 0.5, Check: Between(0.0, 1.0), Lower: func(l *testLower, v float64) { l.Ratio = v }},
		Val[testConfig, testLower, bool]{Field: "On", Get: func(c *testConfig) *bool { return &c.On }, Codec: Bool},
		GoOnly[testConfig, testLower]{Name: "handler.class", Field: "Handler", Type: "func()", Default: "none"},
		Unsupported[testConfig, testLower]{Name: "jitter.ms", Accepted: []string{"0"}, Why: "no jitter"},
		Unsupported[testConfig, testLower]{Name: "flag", Accepted: []string{"false"}, Why: "no flag"},
	)
}

func TestTable(t *testing.T) {
	tab := testTable()
	var c testConfig
	require.NoError(t, tab.Parse(&c, map[string]string{"count": " 20 ", "wait.ms": "0", "ratio": "0", "jitter.ms": "0", "flag": "FALSE"}))
	require.Equal(t, testConfig{Count: 20, Wait: new(time.Duration(0)), Ratio: new(0.0)}, c)
	require.NoError(t, tab.Validate(&c))
	require.Equal(t, map[string]string{"count": "20", "wait.ms": "0", "ratio": "0"}, tab.Format(&c), "Kafka's zeros are not the defaults")
	var l testLower
	tab.Lower(&c, &l)
	require.Equal(t, testLower{Count: 20}, l)

	// Defaults: zero and nil mean them, Fill sets them, Format omits them.
	var d testConfig
	require.Empty(t, tab.Format(&d))
	tab.Lower(&d, &l)
	require.Equal(t, testLower{Count: 10, Wait: time.Second, Ratio: 0.5}, l)
	tab.Fill(&d)
	require.Equal(t, testConfig{Parts: 1, Count: 10, Wait: new(time.Second), Ratio: new(0.5)}, d)
	require.Empty(t, tab.Format(&d))

	// Clone: no pointer shared.
	e := d
	tab.Clone(&e)
	*e.Wait = time.Minute
	require.Equal(t, time.Second, *d.Wait)

	require.Equal(t, []string{"count", "wait.ms", "ratio"}, tab.Names())
	require.Equal(t, map[string][]string{"jitter.ms": {"0"}, "flag": {"false"}}, tab.Unsupported())
}

func TestTableErrors(t *testing.T) {
	tab := testTable()
	for settings, want := range map[string][]string{
		"nosuch=1":          {`unknown test setting "nosuch"`},
		"parts=3":           {`"parts"`, "it is an argument"},
		"count=ten":         {`count="ten"`, "not an integer"},
		"count=0":           {`count="0"`, "want 1 to 100"},
		"count=99999999999": {`count="99999999999"`, "out of range of a 32-bit integer"},
		"wait.ms=":          {`wait.ms=""`, "not an integer"},
		"ratio=NaN":         {`ratio="NaN"`, "not a number"},
		"jitter.ms=5":       {`jitter.ms="5" is not supported`, "no jitter", `only "0"`},
		"handler.class=x":   {`handler.class="x"`, "set the Go field Handler"},
	} {
		k, v, _ := strings.Cut(settings, "=")
		var c testConfig
		err := tab.Parse(&c, map[string]string{k: v})
		require.ErrorIs(t, err, errBad, settings)
		for _, w := range want {
			require.Contains(t, err.Error(), w, settings)
		}
		require.NotContains(t, err.Error(), "strconv", settings)
	}

	// Every bad entry is reported.
	var c testConfig
	err := tab.Parse(&c, map[string]string{"a": "1", "b": "2", "count": "x"})
	require.ErrorIs(t, err, errBad)
	for _, w := range []string{`"a"`, `"b"`, "count"} {
		require.Contains(t, err.Error(), w)
	}

	// Range checks name the setting and the field, for a struct literal as
	// for parsed values.
	for _, c := range []testConfig{{Count: 101}, {Count: -1}, {Wait: new(-time.Millisecond)}, {Wait: new(1500 * time.Microsecond)},
		{Ratio: new(1.5)}, {Ratio: new(math.NaN())}, {Parts: -1}} {
		err := tab.Validate(&c)
		require.ErrorIs(t, err, errBad, "%+v", c)
		require.Contains(t, err.Error(), "test setting ")
	}
	err = tab.Validate(&testConfig{Wait: new(1500 * time.Microsecond)})
	require.ErrorContains(t, err, "wait.ms (Wait) 1.5ms: not a whole number of milliseconds")
	var p testConfig
	require.NoError(t, tab.Parse(&p, map[string]string{"count": "101"}), "Parse reads, Validate checks")
	require.ErrorContains(t, tab.Validate(&p), "count (Count) 101: want 1 to 100")
}

func TestMs(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"0": 0, "1": time.Millisecond, "-1": -time.Millisecond, "604800000": 7 * 24 * time.Hour,
		"9223372036854775807": Forever, "9223372036855": Forever, "18446744073710": Forever,
		"-9223372036854775808": math.MinInt64,
	} {
		d, err := Ms.Parse(s)
		require.NoError(t, err, s)
		require.Equal(t, want, d, s)
	}
	for d, want := range map[time.Duration]string{
		0: "0", time.Millisecond: "1", -time.Millisecond: "-1", -time.Nanosecond: "-1", -1500 * time.Microsecond: "-2",
		Forever: "9223372036854775807", time.Hour: "3600000",
	} {
		require.Equal(t, want, Ms.Format(d), "%v", d)
	}
	for d, want := range map[time.Duration]string{
		7 * 24 * time.Hour: "7 days", 24 * time.Hour: "1 day", time.Hour: "1 h", 5 * time.Minute: "5 min",
		45 * time.Second: "45 s", 500 * time.Millisecond: "500 ms", 0: "0", Forever: "never",
	} {
		require.Equal(t, want, humanMs(d), "%v", d)
	}
	require.Equal(t, "1 GiB", humanBytes(1<<30))
	require.Equal(t, "50 MiB", humanBytes(52428800))
	require.Equal(t, "16384", humanBytes(16384))
	require.Equal(t, "-1", humanBytes(-1))
}

func TestEnumAndBool(t *testing.T) {
	e := Enum(map[string]string{"zstd": "not here"}, Name[int]{"all", -1}, Name[int]{"-1", -1}, Name[int]{"one", 1})
	v, err := e.Parse(" -1 ")
	require.NoError(t, err)
	require.Equal(t, -1, v)
	require.Equal(t, "all", e.Format(-1))
	_, err = e.Parse("zstd")
	require.ErrorContains(t, err, "not supported: not here")
	_, err = e.Parse("two")
	require.ErrorContains(t, err, "want all, -1, one")

	for s, want := range map[string]bool{"true": true, "FALSE": false, " True ": true} {
		b, err := Bool.Parse(s)
		require.NoError(t, err)
		require.Equal(t, want, b)
	}
	_, err = Bool.Parse("yes")
	require.Error(t, err)
}

func TestMarkdownAndBlocks(t *testing.T) {
	md := testTable().Markdown()
	require.Contains(t, md, "| `Parts` | (parts) | `int32` | 1 | ≥ 1 |")
	require.Contains(t, md, "| `Wait` | `wait.ms` | `*time.Duration` | 1 s | ≥ 0 ms | a wait |")
	require.Contains(t, md, "| `On` | (none) | `bool` | false | any |")
	require.Contains(t, md, "| `Handler` | `handler.class` | `func()` | none | any |")
	require.Contains(t, md, "| `flag` | `false` | no flag |\n| `jitter.ms` | `0` | no jitter |")

	readme := "intro\n" + Markers("t") + "\nafter\n"
	got, err := Block(readme, "t")
	require.NoError(t, err)
	require.Empty(t, got)
	readme, err = Replace(readme, "t", md)
	require.NoError(t, err)
	got, err = Block(readme, "t")
	require.NoError(t, err)
	require.Equal(t, md, got)
	require.True(t, strings.HasPrefix(readme, "intro\n") && strings.HasSuffix(readme, "end -->\nafter\n"))
	_, err = Block("no markers", "t")
	require.Error(t, err)
}

func TestCheckFields(t *testing.T) {
	require.NoError(t, testTable().CheckFields())

	type extra struct {
		Count, Other int
		Wait         *time.Duration
	}
	tab := New("x", errBad,
		Val[extra, testLower, int]{Name: "count", Field: "Count", Get: func(c *extra) *int { return &c.Other }, Codec: Int},
		Ptr[extra, testLower, time.Duration]{Name: "wait.ms", Field: "Missing", Get: func(c *extra) **time.Duration { return &c.Wait }, Codec: Ms},
	)
	err := tab.CheckFields()
	require.ErrorContains(t, err, "count: declared as field Count, but its Get returns another field")
	require.ErrorContains(t, err, "declared field Missing is not in")
	require.ErrorContains(t, err, "Other is not declared")
	require.ErrorContains(t, err, "Wait is not declared")
	require.NotContains(t, tab.CheckFields("Other", "Wait").Error(), "is not declared")
}
