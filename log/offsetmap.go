package log

import "github.com/cespare/xxhash/v2"

// offsetMap maps the 64-bit xxhash of a record key to the offset of the
// latest record with that key, in a bounded amount of memory (Kafka's
// SkimpyOffsetMap, with xxhash64 instead of MD5). It is an open-addressing
// table of 16-byte slots with linear probing; it starts small, doubles as
// it fills, and never grows past maxSlots. It is full when one more key
// would take it past maxLoad of maxSlots.
//
// Two keys with the same hash are one key to the map: the older records of
// one would be removed on account of the other. With n distinct keys in one
// pass the chance that any two collide is about n²/2⁶⁵ (3·10⁻¹⁰ at 10⁵ keys,
// 3·10⁻⁶ at 10⁷); Kafka's MD5-based map documents the same kind of risk.
type offsetMap struct {
	slots    []mapSlot
	n        int // keys stored
	maxSlots int
	latest   int64 // largest offset put, -1 if none
}

type mapSlot struct {
	hash   uint64 // 0: empty
	offset int64
}

const (
	mapSlotBytes = 16
	// maxLoad is Kafka's log.cleaner.io.buffer.load.factor.
	maxLoad     = 0.9
	minMapSlots = 1 << 10
)

// newOffsetMap returns a map that uses at most bytes of memory for its
// table (at least one minimal table). While it grows, the table it
// outgrows is alive too, for one copy: up to 1.5 times bytes.
func newOffsetMap(bytes int64) *offsetMap {
	maxSlots := minMapSlots
	for int64(maxSlots)*2*mapSlotBytes <= bytes {
		maxSlots *= 2
	}
	return &offsetMap{maxSlots: maxSlots, latest: -1}
}

// capacity is the most keys the map can hold.
func (m *offsetMap) capacity() int { return int(float64(m.maxSlots) * maxLoad) }

// full reports whether another key may not fit.
func (m *offsetMap) full() bool { return m.n+1 > m.capacity() }

// reset empties the map, keeping its table.
func (m *offsetMap) reset() {
	clear(m.slots)
	m.n = 0
	m.latest = -1
}

// bytes is the memory of the table.
func (m *offsetMap) bytes() int64 { return int64(len(m.slots)) * mapSlotBytes }

func keyHash(key []byte) uint64 {
	h := xxhash.Sum64(key)
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	return h
}

// put records offset as the latest for key's hash. Offsets must be put in
// increasing order. It returns false, and stores nothing, when the key is
// new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h := keyHash(key)
	if m.slots != nil {
		if i, ok := m.find(h); ok {
			m.slots[i].offset = offset
			m.latest = offset
			return true
		}
	}
	if m.full() {
		return false
	}
	if float64(m.n+1) > float64(len(m.slots))*maxLoad {
		m.grow()
	}
	i, _ := m.find(h)
	m.slots[i] = mapSlot{hash: h, offset: offset}
	m.n++
	m.latest = offset
	return true
}

// get returns the latest offset stored for key's hash.
func (m *offsetMap) get(key []byte) (int64, bool) {
	if m.slots == nil {
		return 0, false
	}
	i, ok := m.find(keyHash(key))
	if !ok {
		return 0, false
	}
	return m.slots[i].offset, true
}

// find returns the slot holding h, or the empty slot where it would go.
func (m *offsetMap) find(h uint64) (int, bool) {
	mask := uint64(len(m.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch m.slots[i].hash {
		case h:
			return int(i), true
		case 0:
			return int(i), false
		}
	}
}

func (m *offsetMap) grow() {
	size := max(minMapSlots, 2*len(m.slots))
	if size > m.maxSlots {
		size = m.maxSlots
	}
	old := m.slots
	m.slots = make([]mapSlot, size)
	for _, s := range old {
		if s.hash != 0 {
			i, _ := m.find(s.hash)
			m.slots[i] = s
		}
	}
}
