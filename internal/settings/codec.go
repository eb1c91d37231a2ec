package settings

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Codec converts a setting's Go value to and from Kafka's string form.
// Parse trims surrounding space, as Kafka does; its errors say what was
// wanted, and the Table adds the setting's name and the value.
type Codec[T comparable] struct {
	Parse  func(string) (T, error)
	Format func(T) string
	// Human formats a value for the README ("7 days", "1 GiB"); nil:
	// Format.
	Human func(T) string
}

func (c Codec[T]) human(v T) string {
	if c.Human != nil {
		return c.Human(v)
	}
	return c.Format(v)
}

func intErr(err error, bits int) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("out of range of a %d-bit integer", bits)
	}
	return errors.New("not an integer")
}

// Int is a Kafka INT (32 bits) held in an int.
var Int = Codec[int]{
	Parse: func(s string) (int, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return 0, intErr(err, 32)
		}
		return int(n), nil
	},
	Format: strconv.Itoa,
}

// Int32 is a Kafka INT held in an int32.
var Int32 = Codec[int32]{
	Parse: func(s string) (int32, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return 0, intErr(err, 32)
		}
		return int32(n), nil
	},
	Format: func(n int32) string { return strconv.FormatInt(int64(n), 10) },
}

// Int64 is a Kafka LONG.
var Int64 = Codec[int64]{
	Parse: func(s string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, intErr(err, 64)
		}
		return n, nil
	},
	Format: func(n int64) string { return strconv.FormatInt(n, 10) },
}

// Bytes is Int for a size in bytes: the README shows whole MiB and GiB.
var Bytes = Codec[int]{Parse: Int.Parse, Format: Int.Format, Human: func(n int) string { return humanBytes(int64(n)) }}

// Bytes64 is Int64 for a size in bytes.
var Bytes64 = Codec[int64]{Parse: Int64.Parse, Format: Int64.Format, Human: humanBytes}

func humanBytes(n int64) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10)
}

// Forever is the time.Duration of Kafka's Long.MAX_VALUE milliseconds,
// its "never" (flush.ms, max.compaction.lag.ms, ...): the largest
// Duration, some 292 years. Ms parses every value beyond it to it.
const Forever = time.Duration(math.MaxInt64)

// Ms is a Kafka LONG of milliseconds held in a time.Duration. A value
// beyond what a Duration holds (292 years) is Forever, and Forever is
// formatted as Long.MAX_VALUE, so that Kafka's "never" survives the
// round trip; a negative value beyond it is the smallest Duration.
var Ms = Codec[time.Duration]{
	Parse: func(s string) (time.Duration, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, intErr(err, 64)
		}
		switch {
		case n > int64(Forever/time.Millisecond):
			return Forever, nil
		case n < int64(math.MinInt64/time.Millisecond):
			return math.MinInt64, nil
		}
		return time.Duration(n) * time.Millisecond, nil
	},
	Format: func(d time.Duration) string {
		ms := d.Milliseconds()
		switch {
		case d == Forever:
			return strconv.FormatInt(math.MaxInt64, 10)
		case d < 0 && d%time.Millisecond != 0:
			ms-- // round down: a negative duration stays negative
		}
		return strconv.FormatInt(ms, 10)
	},
	Human: humanMs,
}

func humanMs(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, " days"}, {time.Hour, " h"}, {time.Minute, " min"}, {time.Second, " s"}, {time.Millisecond, " ms"}}
	switch {
	case d == Forever:
		return "never"
	case d == 24*time.Hour:
		return "1 day"
	case d <= 0:
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	for _, u := range units {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return d.String()
}

// Float is a Kafka DOUBLE.
var Float = Codec[float64]{
	Parse: func(s string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errors.New("not a number")
		}
		return f, nil
	},
	Format: func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) },
}

// Bool is a Kafka BOOLEAN: true or false, in any case.
var Bool = Codec[bool]{
	Parse: func(s string) (bool, error) {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, errors.New("want true or false")
	},
	Format: strconv.FormatBool,
}

// String is a Kafka STRING, trimmed.
var String = Codec[string]{
	Parse:  func(s string) (string, error) { return strings.TrimSpace(s), nil },
	Format: func(s string) string { return s },
	Human: func(s string) string {
		if s == "" {
			return "none"
		}
		return "`" + s + "`"
	},
}

// Name is one string form of an enumerated value.
type Name[T comparable] struct {
	Name  string
	Value T
}

// Enum is a setting whose values are names: Format gives the first name
// of a value, Parse takes every one of them (exactly, as Kafka does).
// Refused maps the names Kafka knows that commitlog does not support to
// the reason, for a clearer error than "want one of".
func Enum[T comparable](refused map[string]string, names ...Name[T]) Codec[T] {
	var want []string
	for _, n := range names {
		want = append(want, n.Name)
	}
	return Codec[T]{
		Parse: func(s string) (T, error) {
			s = strings.TrimSpace(s)
			for _, n := range names {
				if n.Name == s {
					return n.Value, nil
				}
			}
			var zero T
			if why, ok := refused[s]; ok {
				return zero, fmt.Errorf("not supported: %s", why)
			}
			return zero, fmt.Errorf("want %s", strings.Join(want, ", "))
		},
		Format: func(v T) string {
			for _, n := range names {
				if n.Value == v {
					return n.Name
				}
			}
			return fmt.Sprint(v)
		},
		Human: func(v T) string {
			for _, n := range names {
				if n.Value == v {
					return "`" + n.Name + "`"
				}
			}
			return fmt.Sprint(v)
		},
	}
}
