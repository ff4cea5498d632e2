package cli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError is an error in the command line itself; az reports those with
// exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

var (
	unknownFlag      = regexp.MustCompile(`^unknown (?:shorthand )?flag: (?:'.' in )?(-\S+)$`)
	needsArgument    = regexp.MustCompile(`^flag needs an argument: (?:'(.)' in -\S+|(--\S+))$`)
	invalidFlagValue = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: (.*)$`)
)

// flagError turns pflag's parse errors into az's (argparse's) wording.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if m := unknownFlag.FindStringSubmatch(msg); m != nil {
		return usageErrorf("unrecognized arguments: %s", m[1])
	}
	if m := needsArgument.FindStringSubmatch(msg); m != nil {
		name := m[2]
		if m[1] != "" {
			if f := cmd.Flags().ShorthandLookup(m[1]); f != nil {
				name = "--" + f.Name
			}
		}
		return usageErrorf("argument %s: expected one argument", flagLabel(cmd, strings.TrimPrefix(name, "--")))
	}
	if m := invalidFlagValue.FindStringSubmatch(msg); m != nil {
		name := m[2]
		if i := strings.LastIndex(name, "--"); i >= 0 {
			name = name[i+2:]
		}
		reason := m[3]
		if strings.Contains(reason, "strconv.") {
			reason = fmt.Sprintf("invalid int value: '%s'", m[1])
		}
		return usageErrorf("argument %s: %s", flagLabel(cmd, name), reason)
	}
	return usageErrorf("%s", msg)
}

// flagLabel names a flag as argparse does: "--name/-n".
func flagLabel(cmd *cobra.Command, name string) string {
	if f := cmd.Flags().Lookup(name); f != nil && f.Shorthand != "" {
		return "--" + name + "/-" + f.Shorthand
	}
	return "--" + name
}

// require checks that the flags were given. A spec "a|b" is satisfied by
// either flag (aliases such as --name and --resource-group) and reported as
// the first.
func require(cmd *cobra.Command, specs ...string) error {
	var missing []string
	for _, spec := range specs {
		names := strings.Split(spec, "|")
		found := false
		for _, n := range names {
			if cmd.Flags().Changed(n) {
				found = true
			}
		}
		if !found {
			missing = append(missing, flagLabel(cmd, names[0]))
		}
	}
	if len(missing) > 0 {
		return usageErrorf("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	return nil
}

// multiValueFlags take several space-separated values, like argparse's
// nargs='+': "--scopes a b" is rewritten to "--scopes=a --scopes=b".
// A flag here given no value gets emptyValue when it has one.
var multiValueFlags = map[string]string{
	"--scopes":          "",
	"--ids":             "",
	"--tags":            "",
	"--assign-identity": systemIdentity,
}

// systemIdentity is what az's --assign-identity means without a value.
const systemIdentity = "[system]"

// threeStateFlags accept an optional true/false after a space, like az's
// three-state flags: "--admin-enabled false".
var threeStateFlags = map[string]bool{
	"--admin-enabled":                      true,
	"--anonymous-pull-enabled":             true,
	"--custom-role-only":                   true,
	"--data-action":                        true,
	"--force-change-password-next-sign-in": true,
	"--account-enabled":                    true,
}

// normalizeArgs rewrites az argument syntax that pflag does not parse.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if empty, ok := multiValueFlags[arg]; ok {
			n := 0
			for i+1 < len(args) && !looksLikeFlag(args[i+1]) {
				i++
				n++
				out = append(out, arg+"="+args[i])
			}
			if n == 0 {
				if empty == "" {
					out = append(out, arg) // pflag reports the missing value
				} else {
					out = append(out, arg+"="+empty)
				}
			}
			continue
		}
		if threeStateFlags[arg] && i+1 < len(args) && isBoolWord(args[i+1]) {
			out = append(out, arg+"="+args[i+1])
			i++
			continue
		}
		out = append(out, arg)
	}
	return out
}

func looksLikeFlag(s string) bool { return len(s) > 1 && s[0] == '-' }

func isBoolWord(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no":
		return true
	}
	return false
}

// triBool is an az three-state flag: unset, true or false; given without a
// value it means true.
type triBool struct {
	set, val bool
}

func (b *triBool) String() string {
	if !b.set {
		return ""
	}
	return fmt.Sprint(b.val)
}

func (b *triBool) Set(s string) error {
	switch strings.ToLower(s) {
	case "true", "yes":
		b.set, b.val = true, true
	case "false", "no":
		b.set, b.val = true, false
	default:
		return fmt.Errorf("invalid choice: '%s' (choose from 'true', 'false')", s)
	}
	return nil
}

func (b *triBool) Type() string { return "bool" }

func addTriBool(fs *pflag.FlagSet, b *triBool, name, usage string) {
	fs.Var(b, name, usage+" Allowed values: false, true.")
	fs.Lookup(name).NoOptDefVal = "true"
}

// choice validates an enumerated value case-insensitively and returns its
// canonical spelling, with az's message for a bad value.
func choice(flag, value string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(a, value) {
			return a, nil
		}
	}
	return "", usageErrorf("'%s' is not a valid value for '%s'. Allowed values: %s.", value, flag, strings.Join(allowed, ", "))
}

// yesFlag adds az's --yes/-y.
func yesFlag(fs *pflag.FlagSet, yes *bool) {
	fs.BoolVarP(yes, "yes", "y", false, "Do not prompt for confirmation.")
}
