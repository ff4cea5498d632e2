package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestNormalizeArgs(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"ad sp create-for-rbac --scopes /a /b --role Reader", "ad sp create-for-rbac --scopes=/a --scopes=/b --role Reader"},
		{"vm create --assign-identity id1 id2", "vm create --assign-identity=id1 --assign-identity=id2"},
		{"vm create --assign-identity -n x", "vm create --assign-identity=[system] -n x"},
		{"role assignment delete --ids", "role assignment delete --ids"},
		{"acr create --admin-enabled false -n x", "acr create --admin-enabled=false -n x"},
		{"acr create --admin-enabled -n x", "acr create --admin-enabled -n x"},
		{"acr update --admin-enabled True", "acr update --admin-enabled=True"},
		{"acr create --admin-enabled=true", "acr create --admin-enabled=true"},
		{"group create --tags a=1 b -l x", "group create --tags=a=1 --tags=b -l x"},
		{"x -- --scopes a", "x -- --scopes a"},
	}
	for _, tt := range tests {
		got := strings.Join(normalizeArgs(strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTriBool(t *testing.T) {
	tests := []struct {
		in      string
		set     bool
		val     bool
		wantErr bool
	}{
		{"true", true, true, false},
		{"FALSE", true, false, false},
		{"yes", true, true, false},
		{"no", true, false, false},
		{"maybe", false, false, true},
	}
	for _, tt := range tests {
		var b triBool
		err := b.Set(tt.in)
		if (err != nil) != tt.wantErr || b.set != tt.set || b.val != tt.val {
			t.Errorf("Set(%q) = %+v, %v", tt.in, b, err)
		}
	}
	var b triBool
	if b.set || b.String() != "" {
		t.Error("unset triBool")
	}
}

// testCommand builds a command with a few flags, run through the root's
// error handling.
func runTestCommand(args ...string) (code int, stderr string) {
	var name, group, sku string
	var admin triBool
	cmd := &cobra.Command{
		Use: "create",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "name|alias", "resource-group", "sku"); err != nil {
				return err
			}
			_, err := choice("--sku", sku, acrSKUs...)
			return err
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "")
	cmd.Flags().StringVar(&name, "alias", "", "")
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "")
	cmd.Flags().StringVar(&sku, "sku", "", "")
	cmd.Flags().Int("years", 1, "")
	addTriBool(cmd.Flags(), &admin, "admin-enabled", "")
	var out, errb bytes.Buffer
	a := newApp(nil, &out, &errb)
	root := &cobra.Command{Use: "drydock", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(cmd)
	applyDefaults(root)
	root.SetArgs(normalizeArgs(append([]string{"create"}, args...)))
	if err := root.Execute(); err != nil {
		return a.reportError(err), errb.String()
	}
	return 0, ""
}

func TestArgumentValidation(t *testing.T) {
	tests := []struct {
		args string
		code int
		err  string
	}{
		{"-n x -g y --sku basic", 0, ""},
		{"--alias x -g y --sku Premium", 0, ""},
		{"", 2, "ERROR: the following arguments are required: --name/-n, --resource-group/-g, --sku"},
		{"-n x", 2, "ERROR: the following arguments are required: --resource-group/-g, --sku"},
		{"-n x -g y --sku Gold", 2, "ERROR: 'Gold' is not a valid value for '--sku'. Allowed values: Basic, Standard, Premium."},
		{"-n x -g y --sku basic --bogus", 2, "ERROR: unrecognized arguments: --bogus"},
		{"-n x -g y --sku basic -z", 2, "ERROR: unrecognized arguments: -z"},
		{"-n x -g y --sku basic stray", 2, "ERROR: unrecognized arguments: stray"},
		{"-n x -g y --sku", 2, "ERROR: argument --sku: expected one argument"},
		{"-g y --sku basic -n", 2, "ERROR: argument --name/-n: expected one argument"},
		{"-n x -g y --sku basic --years ten", 2, "ERROR: argument --years: invalid int value: 'ten'"},
		{"-n x -g y --sku basic --admin-enabled=maybe", 2, "ERROR: argument --admin-enabled: invalid choice: 'maybe' (choose from 'true', 'false')"},
		{"-n x -g y --sku basic --admin-enabled false", 0, ""},
	}
	for _, tt := range tests {
		code, stderr := runTestCommand(strings.Fields(tt.args)...)
		if code != tt.code || strings.TrimSpace(stderr) != tt.err {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tt.args, code, stderr, tt.code, tt.err)
		}
	}
}

func TestReportError(t *testing.T) {
	tests := []struct {
		err  error
		code int
		want string
	}{
		{usageErrorf("the following arguments are required: --name/-n"), 2, "ERROR: the following arguments are required: --name/-n\n"},
		{fmt.Errorf("wrapped: %w", usageErrorf("bad")), 2, "ERROR: bad\n"},
		{errors.New("Role 'x' doesn't exist."), 1, "ERROR: Role 'x' doesn't exist.\n"},
		{errors.New("two\nlines"), 1, "ERROR: two lines\n"},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		a := newApp(nil, &bytes.Buffer{}, &errb)
		if code := a.reportError(tt.err); code != tt.code || errb.String() != tt.want {
			t.Errorf("reportError(%v) = %d %q", tt.err, code, errb.String())
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Setenv("DRYDOCK_CONFIG_DIR", t.TempDir())
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{}, 0, "Usage:", ""},
		{[]string{"acr"}, 0, "Available Commands:", ""},
		{[]string{"acr", "create", "--help"}, 0, "--admin-enabled", ""},
		{[]string{"nope"}, 2, "", "ERROR: 'nope' is misspelled or not recognized by the system."},
		{[]string{"role", "assignment", "nope"}, 2, "", "ERROR: 'nope' is misspelled or not recognized by the system."},
		{[]string{"group", "list", "-o", "xml"}, 2, "", "ERROR: argument --output/-o: invalid choice: 'xml'"},
		{[]string{"group", "list", "--query", "[?"}, 2, "", "ERROR: argument --query: invalid jmespath_type value: '[?'"},
		{[]string{"group", "list"}, 1, "", "ERROR: Please run 'az login' to setup account."},
		{[]string{"account", "list"}, 0, "[]", "WARNING: Please run \"az login\" to access your accounts."},
		{[]string{"account", "list", "--only-show-errors"}, 0, "[]", ""},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.HasPrefix(errb.String(), tt.stderr) || (tt.stderr == "" && errb.Len() > 0) {
			t.Errorf("Run(%v) = %d\nstdout: %s\nstderr: %s", tt.args, code, out.String(), errb.String())
		}
	}
}
