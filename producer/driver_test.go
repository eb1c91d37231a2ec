package producer

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
)

// plainBackend is a Backend that is neither the embedded broker nor a
// DriverOpener.
type plainBackend struct{}

func (plainBackend) Logger() *slog.Logger { return slog.Default() }
func (plainBackend) Close() error         { return nil }

// openerBackend opens no driver: its error comes back from New.
type openerBackend struct{ plainBackend }

var errNoDriver = errors.New("no driver here")

func (openerBackend) OpenProducerDriver(Config) (Driver, error) { return nil, errNoDriver }

func TestNewBackends(t *testing.T) {
	_, err := New(plainBackend{}, Config{})
	require.ErrorIs(t, err, commitlog.ErrUnsupportedBackend)

	_, err = New(openerBackend{}, Config{})
	require.ErrorIs(t, err, errNoDriver)

	_, err = New(openerBackend{}, Config{BatchSize: new(-1)})
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "the config is checked before the driver opens")
	require.NotErrorIs(t, err, errNoDriver)
}
