package settings

import (
	"fmt"
	"strings"
)

func markers(name string) (begin, end string) {
	return "<!-- settings:" + name + " begin: generated from the declarations (internal/settings); do not edit -->\n",
		"<!-- settings:" + name + " end -->"
}

// Block returns the text of the README's block name: what lies between its
// markers, which a test of the package owning the settings compares with
// the table's Markdown.
func Block(readme, name string) (string, error) {
	begin, end := markers(name)
	i := strings.Index(readme, begin)
	if i < 0 {
		return "", fmt.Errorf("no line %q", strings.TrimSpace(begin))
	}
	rest := readme[i+len(begin):]
	j := strings.Index(rest, end)
	if j < 0 {
		return "", fmt.Errorf("no line %q after %q", end, strings.TrimSpace(begin))
	}
	return rest[:j], nil
}

// Replace returns readme with the text of its block name replaced.
func Replace(readme, name, text string) (string, error) {
	old, err := Block(readme, name)
	if err != nil {
		return "", err
	}
	begin, _ := markers(name)
	i := strings.Index(readme, begin) + len(begin)
	return readme[:i] + text + readme[i+len(old):], nil
}

// Markers returns the two marker lines of the block name, for the
// message of a test that finds them missing.
func Markers(name string) string {
	begin, end := markers(name)
	return begin + end
}
