// Package kmsgcheck holds only tests: it cross-checks the record codec
// against franz-go's kmsg, an independent implementation of Kafka's wire
// format. It lives apart from package record so that kmsg stays a test-only
// dependency and stays out of the record package's fuzzing binary, whose
// coverage instrumentation it would slow down by orders of magnitude.
package kmsgcheck
