package commitlog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckpointFormat(t *testing.T) {
	m := map[topicPartition]int64{{"b", 1}: 7, {"a", 10}: 0, {"a", 2}: 123456789012}
	data := encodeCheckpoint(m)
	require.Equal(t, "0\n3\na 2 123456789012\na 10 0\nb 1 7\n", string(data), "Kafka's format, sorted")
	got, err := decodeCheckpoint("x", data)
	require.NoError(t, err)
	require.Equal(t, m, got)

	got, err = decodeCheckpoint("x", []byte("0\n0\n"))
	require.NoError(t, err)
	require.Empty(t, got)

	for _, bad := range []string{
		"", "0\n", "1\n0\n", "0\n1\n", "0\n1\na 0 1", "0\n2\na 0 1\n", "0\n1\na 0 -1\n",
		"0\n1\na -1 1\n", "0\n1\n../x 0 1\n", "0\n1\na 0 1 2\n", "0\n2\na 0 1\na 0 2\n",
		"0\n1\na  0 1\n", "0\n-1\n", "0\n1\na 99999999999 1\n",
	} {
		_, err := decodeCheckpoint("x", []byte(bad))
		require.ErrorIs(t, err, ErrCorrupt, "%q", bad)
	}
}

// FuzzDecodeCheckpoint: never a panic, and whatever decodes re-encodes to
// the same entries.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\norders 0 100\n__consumer_offsets 3 5\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\n.. 0 1\n"))
	f.Add([]byte("0\n1\na 0 9223372036854775807\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeCheckpoint("fuzz", data)
		if err != nil {
			return
		}
		again, err := decodeCheckpoint("fuzz", encodeCheckpoint(m))
		if err != nil {
			t.Fatalf("re-encoded checkpoint does not decode: %v", err)
		}
		require.Equal(t, m, again)
		for k, off := range m {
			if ValidateTopicName(k.topic) != nil || k.partition < 0 || off < 0 {
				t.Fatalf("accepted %v %d", k, off)
			}
		}
	})
}
