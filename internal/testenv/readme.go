package testenv

import (
	"os"
	"testing"

	"github.com/commitlog-go/commitlog/internal/settings"
)

// UpdateREADME is the environment variable that makes README tell
// instead of fail: COMMITLOG_UPDATE_README=1 go test ./producer -run
// README rewrites the producer's block (one package at a time: the
// packages' tests run in parallel).
const UpdateREADME = "COMMITLOG_UPDATE_README"

// README checks that the block name of the README at path holds want,
// the Markdown generated from a settings table, and fails with the text
// to paste when it does not (or writes it, with UpdateREADME set).
func README(t testing.TB, path, name, want string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := settings.Block(string(raw), name)
	if err != nil {
		t.Fatalf("%s: %v; the block is:\n%s", path, err, settings.Markers(name))
	}
	if got == want {
		return
	}
	if os.Getenv(UpdateREADME) != "" {
		out, err := settings.Replace(string(raw), name, want)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: rewrote the %s settings", path, name)
		return
	}
	t.Fatalf("%s: the %s settings table differs from the declarations; paste this between its markers (or run with %s=1):\n%s",
		path, name, UpdateREADME, want)
}
