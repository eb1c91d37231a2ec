// Package settings owns the machinery by which every Kafka setting a
// commitlog config struct mirrors is declared once: its Kafka name, Go
// field, type, default, valid range and documentation. From a Table of
// such declarations the owning package derives everything else: parsing
// Kafka's names and string values (ParseTopicConfig, producer.ParseConfig,
// consumer.ParseConfig), the inverse (Settings, only values that differ
// from the default), validation (the same checks for a struct literal and
// for parsed values), filling in defaults, deep copies, the mapping to a
// lower layer's config, and the settings tables of the README.
//
// The field conventions are the project's Config rule. A Value is a plain
// field whose zero value means the default: Kafka's zero is not a legal
// value of the setting, or is its default. A Pointer is a pointer field
// for a setting whose Kafka zero is legal and differs from the default:
// nil means the default and new(v) sets any value, 0 included. Durations
// are time.Duration fields holding whole milliseconds (Kafka's unit), so
// that every value survives the round trip through Kafka's string form.
//
// Kafka settings that commitlog does not implement are declared
// Unsupported: the values that mean what commitlog does anyway (Kafka's
// default) are accepted and ignored, so that a configuration copied from
// Kafka works, and any other value is an error naming the setting. A name
// that is not declared at all is an error naming it too.
package settings

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Val declares a plain field of the config type C whose zero value means
// Default. L is the lower layer's config the setting is handed to (Lower);
// T is the Go type of the value.
type Val[C, L any, T comparable] struct {
	Name  string // Kafka's name; "" for a setting Kafka does not have
	Field string // the Go field
	// Get returns the field of a config.
	Get     func(*C) *T
	Codec   Codec[T]
	Default T
	Check   Check[T]
	// Lower, if set, hands the value (the default when the field is zero)
	// to the lower layer's config.
	Lower func(*L, T)
	// Normalize, if set, maps each value to the one that stands for its
	// meaning (every negative retention.ms to -1 ms), in Fill, Format and
	// Lower, so that the value survives the round trip unchanged.
	Normalize func(T) T
	// Doc is the README's "meaning" column; DefaultDoc replaces the
	// formatted default where the value alone says too little ("never").
	Doc, DefaultDoc string
	// Argument marks a value that is not set by name, such as the
	// partition count ParseTopicConfig takes as an argument: Hint is the
	// error for its name in a settings map.
	Argument bool
	Hint     string
}

// Ptr declares a pointer field of the config type C: nil means Default.
type Ptr[C, L any, T comparable] struct {
	Name            string
	Field           string
	Get             func(*C) **T
	Codec           Codec[T]
	Default         T
	Check           Check[T]
	Lower           func(*L, T)
	Normalize       func(T) T // as Val's
	Doc, DefaultDoc string
}

// GoOnly declares a field that has no string form (an interface value, a
// list of strategies, ...): it is documented with the others, and its Kafka
// name, if any, is refused by Parse with an error saying to set the field.
// Its zero value means its default, which the owner fills in itself.
type GoOnly[C, L any] struct {
	Name, Field, Type, Default, Doc string
}

// Unsupported declares a Kafka setting commitlog does not implement.
// Accepted are the values that mean what commitlog does anyway (Kafka's
// default, in every Kafka version that has the setting); they are
// accepted and ignored. Why says what commitlog does instead.
type Unsupported[C, L any] struct {
	Name     string
	Accepted []string
	Why      string
}

// Decl is one declaration: a Val, Ptr, GoOnly or Unsupported.
type Decl[C, L any] interface{ entry() *entry[C, L] }

// entry is a declaration with its type erased, as a Table uses it.
type entry[C, L any] struct {
	name, field, typ, def, valid, doc string

	argument    bool   // not settable by name (hint says why)
	hint        string //
	unsupported bool   // Kafka's, not implemented: accepted only at accepted
	accepted    []string
	why         string // what commitlog does instead

	parse  func(*C, string) error // nil: not settable by name
	format func(*C) (string, bool)
	check  func(*C) error
	fill   func(*C)
	clone  func(*C)
	lower  func(*C, *L)
	addr   func(*C) any // the field's address (nil for GoOnly and Unsupported), for CheckFields
}

func normalize[T any](f func(T) T, v T) T {
	if f == nil {
		return v
	}
	return f(v)
}

func typeName[T any](pointer bool) string {
	var zero T
	s := fmt.Sprintf("%T", zero)
	if pointer {
		s = "*" + s
	}
	return s
}

func (d Val[C, L, T]) entry() *entry[C, L] {
	var zero T
	value := func(c *C) T {
		if v := *d.Get(c); v != zero {
			return normalize(d.Normalize, v)
		}
		return d.Default
	}
	e := &entry[C, L]{
		name: d.Name, field: d.Field, typ: typeName[T](false), def: d.DefaultDoc, valid: d.Check.Valid, doc: d.Doc,
		argument: d.Argument, hint: d.Hint,
		parse: func(c *C, s string) error {
			v, err := d.Codec.Parse(s)
			if err != nil {
				return err
			}
			if v == zero && d.Check.Fn != nil {
				// Kafka's zero, where the field's zero means the default:
				// refused where Kafka refuses it (segment.ms=0).
				if err := d.Check.Fn(v); err != nil {
					return err
				}
			}
			*d.Get(c) = v
			return nil
		},
		fill: func(c *C) { *d.Get(c) = value(c) },
	}
	e.addr = func(c *C) any { return d.Get(c) }
	return derive(e, value, d.Codec, d.Default, d.Check, d.Lower)
}

// derive sets what Val and Ptr entries make alike from the field's value:
// its Kafka string form, its check, its documented default and its
// lowering.
func derive[C, L any, T comparable](e *entry[C, L], value func(*C) T, codec Codec[T], def T, chk Check[T], lower func(*L, T)) *entry[C, L] {
	name, field := e.name, e.field
	e.format = func(c *C) (string, bool) {
		v := value(c)
		return codec.Format(v), v != def
	}
	e.check = func(c *C) error { return chk.run(name, field, value(c)) }
	if e.def == "" {
		e.def = codec.human(def)
	}
	if lower != nil {
		e.lower = func(c *C, l *L) { lower(l, value(c)) }
	}
	return e
}

func (d Ptr[C, L, T]) entry() *entry[C, L] {
	value := func(c *C) T {
		if p := *d.Get(c); p != nil {
			return normalize(d.Normalize, *p)
		}
		return d.Default
	}
	e := &entry[C, L]{
		name: d.Name, field: d.Field, typ: typeName[T](true), def: d.DefaultDoc, valid: d.Check.Valid, doc: d.Doc,
		parse: func(c *C, s string) error {
			v, err := d.Codec.Parse(s)
			if err != nil {
				return err
			}
			*d.Get(c) = &v
			return nil
		},
		fill: func(c *C) {
			if p := *d.Get(c); p == nil || d.Normalize != nil {
				v := value(c)
				*d.Get(c) = &v
			}
		},
		clone: func(c *C) {
			if p := *d.Get(c); p != nil {
				v := *p
				*d.Get(c) = &v
			}
		},
	}
	e.addr = func(c *C) any { return d.Get(c) }
	return derive(e, value, d.Codec, d.Default, d.Check, d.Lower)
}

func (d GoOnly[C, L]) entry() *entry[C, L] {
	return &entry[C, L]{name: d.Name, field: d.Field, typ: d.Type, def: d.Default, doc: d.Doc}
}

func (d Unsupported[C, L]) entry() *entry[C, L] {
	return &entry[C, L]{name: d.Name, unsupported: true, accepted: d.Accepted, why: d.Why}
}

// Table is the declared settings of the config type C, which maps to the
// lower layer's config L.
type Table[C, L any] struct {
	what    string // "topic", "producer", ... in error messages
	invalid error  // the owner's sentinel, wrapped by every error
	all     []*entry[C, L]
	byName  map[string]*entry[C, L]
}

// New returns the table of decls. Errors it returns read "<what> setting
// ..." and wrap invalid. It panics on a name declared twice: the
// declarations are the program's, not input.
func New[C, L any](what string, invalid error, decls ...Decl[C, L]) *Table[C, L] {
	t := &Table[C, L]{what: what, invalid: invalid, byName: map[string]*entry[C, L]{}}
	for _, d := range decls {
		e := d.entry()
		t.all = append(t.all, e)
		if e.name == "" {
			continue
		}
		if _, dup := t.byName[e.name]; dup {
			panic("settings: " + e.name + " declared twice")
		}
		t.byName[e.name] = e
	}
	return t
}

// Parse sets the fields of c named by settings (Kafka names, Kafka's
// string forms). It leaves the other fields alone, and neither fills in
// defaults nor validates ranges (call Validate for that), except that
// Kafka's zero of a Val is refused where Kafka refuses it: the field's
// zero would mean the default instead. Every bad entry
// is reported, in name order, each error naming the setting and its
// value: an unknown name, a malformed value, an unsupported setting at a
// value other than the accepted ones, a setting with no string form.
func (t *Table[C, L]) Parse(c *C, settings map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		if err := t.parseOne(c, name, settings[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Table[C, L]) parseOne(c *C, name, value string) error {
	e, ok := t.byName[name]
	switch {
	case !ok:
		return fmt.Errorf("unknown %s setting %q: %w", t.what, name, t.invalid)
	case e.argument:
		return fmt.Errorf("%s setting %q: %s: %w", t.what, name, e.hint, t.invalid)
	case e.unsupported:
		if slices.ContainsFunc(e.accepted, func(a string) bool { return sameValue(a, value) }) {
			return nil
		}
		msg := "no value is accepted"
		if len(e.accepted) > 0 {
			msg = "only " + quoteAll(e.accepted) + " (Kafka's default) is accepted"
		}
		return fmt.Errorf("%s setting %s=%q is not supported: %s; %s: %w", t.what, name, value, e.why, msg, t.invalid)
	case e.parse == nil:
		return fmt.Errorf("%s setting %s=%q: it has no string form here: set the Go field %s: %w", t.what, name, value, e.field, t.invalid)
	}
	if err := e.parse(c, value); err != nil {
		return fmt.Errorf("%s setting %s=%q: %v: %w", t.what, name, value, err, t.invalid)
	}
	return nil
}

// sameValue compares an accepted value of an unsupported setting with a
// given one as Kafka would parse both: numbers by value, the rest by text
// without case (booleans) or surrounding space.
func sameValue(accepted, given string) bool {
	given = strings.TrimSpace(given)
	if a, err := Int64.Parse(accepted); err == nil {
		g, err := Int64.Parse(given)
		return err == nil && a == g
	}
	return strings.EqualFold(accepted, given)
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " or ")
}

// Format returns the settings of c that differ from their defaults, by
// Kafka name in Kafka's string form: the inverse of Parse.
func (t *Table[C, L]) Format(c *C) map[string]string {
	m := map[string]string{}
	for _, e := range t.all {
		if e.format == nil || e.argument || e.name == "" {
			continue
		}
		if s, set := e.format(c); set {
			m[e.name] = s
		}
	}
	return m
}

// FormatAll is Format with the defaults too: every setting that has a
// name and a string form.
func (t *Table[C, L]) FormatAll(c *C) map[string]string {
	m := map[string]string{}
	for _, e := range t.all {
		if e.format != nil && !e.argument && e.name != "" {
			m[e.name], _ = e.format(c)
		}
	}
	return m
}

// Validate checks every setting of c (a zero or nil field: its default)
// and reports every one out of range, in declaration order.
func (t *Table[C, L]) Validate(c *C) error {
	var errs []error
	for _, e := range t.all {
		if e.check == nil {
			continue
		}
		if err := e.check(c); err != nil {
			errs = append(errs, fmt.Errorf("%s setting %w: %w", t.what, err, t.invalid))
		}
	}
	return errors.Join(errs...)
}

// Fill sets every zero Val and nil Ptr field of c to its default.
func (t *Table[C, L]) Fill(c *C) {
	for _, e := range t.all {
		if e.fill != nil {
			e.fill(c)
		}
	}
}

// Clone gives every non-nil Ptr field of c a pointer of its own, so that
// c shares nothing with the config it was copied from.
func (t *Table[C, L]) Clone(c *C) {
	for _, e := range t.all {
		if e.clone != nil {
			e.clone(c)
		}
	}
}

// Lower hands every setting of c that has a Lower function to l, in
// declaration order (defaults for zero and nil fields).
func (t *Table[C, L]) Lower(c *C, l *L) {
	for _, e := range t.all {
		if e.lower != nil {
			e.lower(c, l)
		}
	}
}

// Names returns the names Parse accepts with a value of their own, that
// is the declared Kafka settings less the unsupported ones, the arguments
// and those without a string form, in declaration order.
func (t *Table[C, L]) Names() []string {
	var out []string
	for _, e := range t.all {
		if e.name != "" && !e.argument && e.format != nil {
			out = append(out, e.name)
		}
	}
	return out
}

// CheckFields reports every difference between the declarations and the
// config type C: an exported field of C that no setting declares (unless
// listed in notSettings), a declared Field that C lacks, and a Field name
// that is not the field its Get returns. The packages' tests call it, so
// that a field cannot be added to a config, or renamed, without its one
// declaration.
func (t *Table[C, L]) CheckFields(notSettings ...string) error {
	var c C
	v := reflect.ValueOf(&c).Elem()
	typ := v.Type()
	declared := map[string]bool{}
	var errs []error
	for _, e := range t.all {
		if e.field == "" {
			continue
		}
		declared[e.field] = true
		f, ok := typ.FieldByName(e.field)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: declared field %s is not in %s", e.name, e.field, typ))
			continue
		}
		if e.addr != nil && reflect.ValueOf(e.addr(&c)).Pointer() != v.FieldByIndex(f.Index).Addr().Pointer() {
			errs = append(errs, fmt.Errorf("%s: declared as field %s, but its Get returns another field", e.name, e.field))
		}
	}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.IsExported() && !declared[f.Name] && !slices.Contains(notSettings, f.Name) {
			errs = append(errs, fmt.Errorf("%s.%s is not declared as a setting", typ, f.Name))
		}
	}
	return errors.Join(errs...)
}

// Unsupported returns the names of the declared unsupported settings with
// the values accepted for each.
func (t *Table[C, L]) Unsupported() map[string][]string {
	m := map[string][]string{}
	for _, e := range t.all {
		if e.unsupported {
			m[e.name] = e.accepted
		}
	}
	return m
}

// Markdown returns the README's table of the settings, and the table of
// the unsupported ones, generated from the declarations.
func (t *Table[C, L]) Markdown() string {
	var b strings.Builder
	b.WriteString("| field | Kafka name | type | default | valid | meaning |\n|---|---|---|---|---|---|\n")
	var unsupported []*entry[C, L]
	for _, e := range t.all {
		if e.unsupported {
			unsupported = append(unsupported, e)
			continue
		}
		name := "(none)"
		switch {
		case e.argument:
			name = "(" + e.name + ")"
		case e.name != "":
			name = "`" + e.name + "`"
		}
		valid := e.valid
		if valid == "" {
			valid = "any"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s |\n", e.field, name, e.typ, e.def, valid, e.doc)
	}
	if len(unsupported) == 0 {
		return b.String()
	}
	slices.SortFunc(unsupported, func(a, b *entry[C, L]) int { return cmp.Compare(a.name, b.name) })
	fmt.Fprintf(&b, "\nKafka's %s settings that commitlog does not implement are refused with an error naming them, "+
		"except at the value that means what commitlog does anyway (Kafka's default), which is accepted and ignored "+
		"so that a configuration copied from Kafka works:\n\n", t.what)
	b.WriteString("| Kafka name | accepted | because |\n|---|---|---|\n")
	for _, e := range unsupported {
		var acc []string
		for _, a := range e.accepted {
			if a == "" {
				a = `""`
			}
			acc = append(acc, "`"+a+"`")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", e.name, strings.Join(acc, " or "), e.why)
	}
	return b.String()
}
