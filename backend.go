package commitlog

import "log/slog"

// Backend is what the clients (packages producer, consumer and admin) run
// on: the embedded *Broker, or a Kafka cluster (*kafka.Cluster from package
// kafka). Choosing the backend is the one line that differs between a
// program that embeds its logs and the same program on a Kafka cluster:
//
//	var b commitlog.Backend
//	if seeds != "" {
//		b, err = kafka.Connect(ctx, kafka.Config{BootstrapServers: strings.Split(seeds, ",")})
//	} else {
//		b, err = commitlog.Open(dir)
//	}
//	p, err := producer.New(b, producer.Config{}) // the same from here on
//
// The clients recognise the embedded broker by the Store interface and any
// other backend by the driver interfaces of their packages
// (producer.DriverOpener, consumer.DriverOpener, admin.DriverOpener); a
// value that is neither gets ErrUnsupportedBackend.
type Backend interface {
	// Logger is the structured logger the clients log through.
	Logger() *slog.Logger
	// Close releases the backend: the embedded broker closes its data
	// directory, a Kafka cluster connection closes its clients. Close the
	// producers and consumers first.
	Close() error
}

var _ Backend = (*Broker)(nil)
