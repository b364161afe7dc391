// The oracle of test/t/008_semver_oracle.pl: Masterminds/semver itself
// (Debian bookworm's golang-github-masterminds-semver-dev, v3.2.0), built
// offline.  Reads lines of TAB-separated fields, each field escaped as in
// test/conformance/*.tsv (\\, \t, \n), and prints one answer a line:
//
//	check<TAB>range<TAB>version   NewConstraint, NewVersion, Check:
//	                              "range-invalid", "version-invalid",
//	                              "true" or "false"
//	compare<TAB>a<TAB>b           NewVersion of both, Compare: "a-invalid",
//	                              "b-invalid", "-1", "0" or "1"
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
)

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func answer(f []string) string {
	switch {
	case len(f) == 3 && f[0] == "check":
		c, err := semver.NewConstraint(unescape(f[1]))
		if err != nil {
			return "range-invalid"
		}
		v, err := semver.NewVersion(unescape(f[2]))
		if err != nil {
			return "version-invalid"
		}
		return fmt.Sprint(c.Check(v))
	case len(f) == 3 && f[0] == "compare":
		a, err := semver.NewVersion(unescape(f[1]))
		if err != nil {
			return "a-invalid"
		}
		b, err := semver.NewVersion(unescape(f[2]))
		if err != nil {
			return "b-invalid"
		}
		return fmt.Sprint(a.Compare(b))
	}
	fmt.Fprintf(os.Stderr, "bad input line: %q\n", strings.Join(f, "\t"))
	os.Exit(2)
	return ""
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		fmt.Fprintln(out, answer(strings.Split(in.Text(), "\t")))
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
