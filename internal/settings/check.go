package settings

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// Check is a setting's valid range: Valid describes it for the README,
// Fn returns why a value is out of it (nil when it is not).
type Check[T any] struct {
	Valid string
	Fn    func(T) error
}

func (c Check[T]) run(name, field string, v T) error {
	if c.Fn == nil {
		return nil
	}
	if err := c.Fn(v); err != nil {
		if name == "" {
			return fmt.Errorf("%s %v: %v", field, v, err)
		}
		return fmt.Errorf("%s (%s) %v: %v", name, field, v, err)
	}
	return nil
}

// Any accepts every value.
func Any[T any]() Check[T] { return Check[T]{Valid: "any"} }

// AtLeast accepts min and above.
func AtLeast[T cmp.Ordered](min T) Check[T] {
	return Check[T]{Valid: fmt.Sprintf("≥ %v", min), Fn: func(v T) error {
		if !(v >= min) { // NaN too
			return fmt.Errorf("want at least %v", min)
		}
		return nil
	}}
}

// Between accepts min to max, both included.
func Between[T cmp.Ordered](min, max T) Check[T] {
	return Check[T]{Valid: fmt.Sprintf("%v to %v", min, max), Fn: func(v T) error {
		if !(v >= min && v <= max) { // NaN too
			return fmt.Errorf("want %v to %v", min, max)
		}
		return nil
	}}
}

// Only accepts v alone; why says why.
func Only[T comparable](v T, why string) Check[T] {
	return Check[T]{Valid: fmt.Sprintf("%v", v), Fn: func(x T) error {
		if x != v {
			return fmt.Errorf("want %v: %s", v, why)
		}
		return nil
	}}
}

// OneOf accepts the values a codec's names parse to: every value Format
// gives a name for.
func OneOf[T comparable](c Codec[T], values ...T) Check[T] {
	valid, plain := "", ""
	for i, v := range values {
		if i > 0 {
			valid += ", "
			plain += ", "
		}
		valid += "`" + c.Format(v) + "`" // markdown, for the README
		plain += c.Format(v)
	}
	return Check[T]{Valid: valid, Fn: func(x T) error {
		for _, v := range values {
			if x == v {
				return nil
			}
		}
		return fmt.Errorf("want %s", plain)
	}}
}

var errWholeMs = errors.New("not a whole number of milliseconds (the unit of Kafka's setting)")

// MsAtLeast accepts durations of whole milliseconds from min on, and
// Forever.
func MsAtLeast(min time.Duration) Check[time.Duration] {
	return Check[time.Duration]{Valid: fmt.Sprintf("≥ %d ms", min.Milliseconds()), Fn: func(d time.Duration) error {
		switch {
		case d == Forever:
		case d < min:
			return fmt.Errorf("want at least %d ms", min.Milliseconds())
		case d%time.Millisecond != 0:
			return errWholeMs
		}
		return nil
	}}
}

// MsOrNegative accepts durations of whole milliseconds from 0 on, Forever,
// and any negative duration, which means no limit (Kafka's -1).
func MsOrNegative() Check[time.Duration] {
	return Check[time.Duration]{Valid: "≥ 0 ms; negative (-1): no limit", Fn: func(d time.Duration) error {
		if d >= 0 && d != Forever && d%time.Millisecond != 0 {
			return errWholeMs
		}
		return nil
	}}
}
