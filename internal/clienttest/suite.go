// Package clienttest is the test suite that the clients (producer,
// consumer, admin) must pass on every backend: the embedded broker and a
// Kafka cluster (kfake in the tests). A backend's test calls Run with an
// Env that opens it; the cases are registered by the files of this
// package, one per concern.
package clienttest

import (
	"sort"
	"testing"

	"github.com/commitlog-go/commitlog"
)

// Env is one backend under test.
type Env struct {
	// Name names the backend in test names ("embedded", "kafka").
	Name string
	// Open opens the backend; every call of one test sees the same data
	// (the same directory, the same cluster).
	Open func(t *testing.T) commitlog.Backend
	// Restart closes b and opens the backend again on the same data, as
	// a process restart would (the embedded broker reopens its
	// directory; a kfake cluster keeps running and only the client
	// connection is made again).
	Restart func(t *testing.T, b commitlog.Backend) commitlog.Backend
	// CreateTopic creates a topic on b with cfg (its partition count and
	// the settings the case needs, cleanup.policy for one), failing the
	// test on an error. (Until package admin takes a Backend, each
	// backend's runner says how.)
	CreateTopic func(t *testing.T, b commitlog.Backend, name string, cfg commitlog.TopicConfig)
}

// Case is one test of the suite.
type Case struct {
	Name string
	Run  func(t *testing.T, env *Env)
}

var cases []Case

// register adds a case; the files of this package call it from init.
func register(name string, run func(t *testing.T, env *Env)) {
	cases = append(cases, Case{Name: name, Run: run})
}

// Cases returns the registered cases, sorted by name.
func Cases() []Case {
	out := append([]Case(nil), cases...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Run runs every case on the backend env makes; newEnv is called once per
// case so that each case has data of its own.
func Run(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, newEnv(t)) })
	}
}
