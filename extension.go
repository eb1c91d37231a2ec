package commitlog

import (
	"fmt"
	"io"
	"sync"
)

// extensions are services built on a broker by other packages (the
// consumer group coordinator): one per key, created on first use and
// closed when the broker closes, before its partitions.
type extensions struct {
	mu      sync.Mutex
	byKey   map[any]any
	order   []io.Closer
	closing bool
}

// Extension returns the value registered under key, calling create to make
// it on first use. A value that implements io.Closer is closed by
// Broker.Close, in reverse order of creation, before the partitions close.
// Packages use a private key type, as with context values.
func (b *Broker) Extension(key any, create func() (any, error)) (any, error) {
	b.ext.mu.Lock()
	defer b.ext.mu.Unlock()
	if b.ext.closing {
		return nil, fmt.Errorf("commitlog: %w", ErrClosed)
	}
	if v, ok := b.ext.byKey[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	if b.ext.byKey == nil {
		b.ext.byKey = map[any]any{}
	}
	b.ext.byKey[key] = v
	if c, ok := v.(io.Closer); ok {
		b.ext.order = append(b.ext.order, c)
	}
	return v, nil
}

func (b *Broker) closeExtensions() error {
	b.ext.mu.Lock()
	b.ext.closing = true
	order := b.ext.order
	b.ext.order = nil
	b.ext.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if err := order[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}
