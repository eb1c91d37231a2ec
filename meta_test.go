package commitlog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenRejectsUnsafeMeta: names and counts read from meta.json are
// checked as CreateTopic checks them. "../escaped" made Open create, and
// DeleteTopic remove, a directory outside the data directory.
func TestOpenRejectsUnsafeMeta(t *testing.T) {
	tests := []struct {
		name, meta, entry string
	}{
		{"parent dir", `{"version":1,"topics":{"../escaped":{"partitions":1}}}`, "../escaped"},
		{"absolute", `{"version":1,"topics":{"/tmp/escaped":{"partitions":1}}}`, "/tmp/escaped"},
		{"slash", `{"version":1,"topics":{"a/b":{"partitions":1}}}`, "a/b"},
		{"dotdot", `{"version":1,"topics":{"..":{"partitions":1}}}`, `".."`},
		{"empty name", `{"version":1,"topics":{"":{"partitions":1}}}`, `""`},
		{"zero partitions", `{"version":1,"topics":{"t":{"partitions":0}}}`, "t"},
		{"negative partitions", `{"version":1,"topics":{"t":{"partitions":-3}}}`, "t"},
		{"huge partitions", `{"version":1,"topics":{"t":{"partitions":2000000000}}}`, "t"},
		{"over int32", `{"version":1,"topics":{"t":{"partitions":9000000000}}}`, metaFile},
		{"bad setting", `{"version":1,"topics":{"t":{"partitions":1,"config":{"retention.ms":"soon"}}}}`, "retention.ms"},
		{"deleted escapes", `{"version":1,"topics":{},"deleted":[{"name":"../escaped","partitions":1}]}`, "../escaped"},
		{"deleted count", `{"version":1,"topics":{},"deleted":[{"name":"d","partitions":-1}]}`, `"d"`},
		{"no version", `{"topics":{}}`, "version"},
		{"future version", `{"version":99,"topics":{}}`, "version"},
		{"trailing garbage", `{"version":1,"topics":{}}xx`, metaFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "data")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			// A directory outside dir that a path built from the bad
			// name would reach.
			outside := filepath.Join(root, "escaped-0")
			require.NoError(t, os.MkdirAll(outside, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "00000000000000000000.log"), []byte("not yours"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, metaFile), []byte(tt.meta), 0o644))

			b, err := Open(dir, WithoutExpvar())
			if err == nil {
				_ = b.DeleteTopic("../escaped")
				_ = b.Close()
			}
			require.ErrorIs(t, err, ErrCorrupt)
			require.Contains(t, err.Error(), metaFile)
			require.Contains(t, err.Error(), tt.entry)
			require.FileExists(t, filepath.Join(outside, "00000000000000000000.log"))
			require.NoDirExists(t, filepath.Join(root, "tmp"))
			entries, err := os.ReadDir(root)
			require.NoError(t, err)
			require.Len(t, entries, 2, "only data and escaped-0 in %s", root)
		})
	}
}

func TestPartitionDirStaysInside(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithoutExpvar())
	for _, name := range []string{"../x", "a/b", "..", "", "/abs"} {
		_, err := b.partitionDir(name, 0)
		require.ErrorIs(t, err, ErrInvalidTopic, name)
	}
	_, err := b.partitionDir("ok", -1)
	require.Error(t, err)
	p, err := b.partitionDir("ok", 3)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(b.Dir(), "ok-3"), p)
}

// TestEncodeDecodeMeta: what writeMeta writes decodes to the same.
func TestEncodeDecodeMeta(t *testing.T) {
	m := metadata{Version: 1, Topics: map[string]topicMeta{
		"a":          {Partitions: 3, Config: map[string]string{"retention.ms": "1000"}},
		OffsetsTopic: {Partitions: 8, Config: map[string]string{"cleanup.policy": "compact"}},
	}, Deleted: []deletedTopic{{Name: "gone", Partitions: 2}}}
	raw, err := encodeMeta(m)
	require.NoError(t, err)
	got, err := decodeMeta(raw)
	require.NoError(t, err)
	require.Equal(t, m.Topics, got.Topics)
	require.Equal(t, m.Deleted, got.Deleted)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(raw, &generic))
}

// FuzzDecodeMeta: decodeMeta never panics on any bytes, refuses with
// ErrCorrupt, and whatever it accepts is safe to act on: valid topic
// names, partition counts in [1, MaxPartitions], settings that parse,
// partition directories inside the data directory, and an encoding that
// decodes to the same.
func FuzzDecodeMeta(f *testing.F) {
	valid, err := encodeMeta(metadata{Version: 1, Topics: map[string]topicMeta{
		"orders":     {Partitions: 3, Config: map[string]string{"retention.ms": "86400000", "cleanup.policy": "compact,delete"}},
		OffsetsTopic: {Partitions: 8, Config: map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}},
	}, Deleted: []deletedTopic{{Name: "old", Partitions: 2}}})
	require.NoError(f, err)
	seeds := []string{
		string(valid),
		string(valid[:len(valid)/2]),
		strings.Replace(string(valid), "orders", "ord\u0000rs", 1),
		`{"version":1,"topics":{}}`,
		`{"version":1,"topics":null}`,
		`{"version":1}`,
		`null`,
		``,
		`[]`,
		`{"version":1,"topics":{"../escaped":{"partitions":1}}}`,
		`{"version":1,"topics":{"..":{"partitions":1}}}`,
		`{"version":1,"topics":{"a/../../b":{"partitions":1}}}`,
		`{"version":1,"topics":{"t":{"partitions":10001}}}`,
		`{"version":1,"topics":{"t":{"partitions":2147483647}}}`,
		`{"version":1,"topics":{"t":{"partitions":-2147483648}}}`,
		`{"version":1,"topics":{"t":{"partitions":1e3}}}`,
		`{"version":1,"topics":{"t":{"partitions":10000,"config":{"segment.bytes":"13"}}}}`,
		`{"version":1,"topics":{"t":{"partitions":1}},"deleted":[{"name":"t","partitions":5},{"name":"t","partitions":1}]}`,
		`{"version":1,"topics":{},"deleted":[{"name":"../x","partitions":1}]}`,
		`{"version":1,"topics":{},"deleted":{"name":"x"}}`,
		`{"version":1,"Topics":{"t":{"Partitions":2}},"version":1}`,
		`{"version":1,"topics":{"t":{"partitions":1}}} {"version":2}`,
		"{\"version\":1,\"topics\":{\"\xff\":{\"partitions\":1}}}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	b := &Broker{dir: filepath.Join(f.TempDir(), "data")}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMeta(data)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			require.Contains(t, err.Error(), metaFile)
			return
		}
		require.Equal(t, metaVersion, m.Version)
		require.NotNil(t, m.Topics)
		inside := func(name string, n int32) {
			require.NoError(t, ValidateTopicName(name))
			require.GreaterOrEqual(t, n, int32(1))
			require.LessOrEqual(t, n, int32(MaxPartitions))
			for _, id := range []int32{0, n - 1} {
				dir, err := b.partitionDir(name, id)
				require.NoError(t, err)
				require.Equal(t, b.dir, filepath.Dir(dir))
			}
		}
		for name, tm := range m.Topics {
			inside(name, tm.Partitions)
			cfg, err := ParseTopicConfig(tm.Partitions, tm.Config)
			require.NoError(t, err)
			require.NoError(t, cfg.validate())
		}
		seen := map[string]bool{}
		for _, d := range m.Deleted {
			inside(d.Name, d.Partitions)
			require.False(t, seen[d.Name])
			seen[d.Name] = true
		}
		raw, err := encodeMeta(m)
		require.NoError(t, err)
		again, err := decodeMeta(raw)
		require.NoError(t, err)
		require.Equal(t, len(m.Topics), len(again.Topics))
		for name, tm := range m.Topics {
			require.Equal(t, tm.Partitions, again.Topics[name].Partitions)
			require.Equal(t, len(tm.Config), len(again.Topics[name].Config))
		}
		require.ElementsMatch(t, m.Deleted, again.Deleted)
	})
}

// TestDecodeMetaUpgradesOldSettings: the values earlier versions stored
// and now fail the checks (negative segment.ms: no roll by age; negative
// flush.ms, flush.messages, index.interval.bytes, segment.index.bytes:
// the default) still open, with what they meant.
func TestDecodeMetaUpgradesOldSettings(t *testing.T) {
	old := map[string]string{"segment.ms": "-1", "flush.ms": "-1", "flush.messages": "-5", "index.interval.bytes": "-1",
		"segment.index.bytes": "-1", "retention.ms": "1000"}
	raw, err := encodeMeta(metadata{Version: metaVersion, Topics: map[string]topicMeta{"t": {Partitions: 1, Config: old}}})
	require.NoError(t, err)
	_, err = ParseTopicConfig(1, old)
	require.ErrorIs(t, err, ErrInvalidConfig, "refused as settings")
	m, err := decodeMeta(raw)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"segment.ms": "9223372036854775807", "retention.ms": "1000"}, m.Topics["t"].Config)
	require.Equal(t, "-1", old["segment.ms"], "the input map is not changed")
}
