package e2e

import (
	"regexp"
	"testing"
)

// TestBadInput checks that rejected commands behave like az: exit code 1
// (2 for usage errors), nothing on stdout, one "ERROR: ..." line on stderr.
func TestBadInput(t *testing.T) {
	_, az := sharedAdmin(t)

	az.ok("group", "create", "-n", "badinput-rg", "-l", "eastus", "-o", "none")
	az.ok("group", "create", "-n", "badinput-other", "-l", "westus", "-o", "none")
	acrID := az.tsv("acr", "create", "-n", "badinputreg", "-g", "badinput-rg", "--sku", "Standard", "--query", "id")
	mi := az.tsv("identity", "create", "-n", "badinput-mi", "-g", "badinput-rg", "--query", "principalId")
	az.ok("role", "assignment", "create", "--role", "AcrPull", "--assignee-object-id", mi,
		"--assignee-principal-type", "ServicePrincipal", "--scope", acrID, "-o", "none")

	cases := []struct {
		name string
		code int
		want string // regular expression for the ERROR line
		args []string
	}{
		{"invalid registry name", 1, `^ERROR: \(InvalidResourceName\) .*'ab'`,
			[]string{"acr", "create", "--name", "ab", "-g", "badinput-rg", "--sku", "Basic"}},
		{"registry name taken in another group", 1, `^ERROR: \(AlreadyInUse\) .*badinputreg\.azurecr\.io`,
			[]string{"acr", "create", "--name", "badinputreg", "-g", "badinput-other", "--sku", "Basic"}},
		{"unknown resource group", 1, `^ERROR: \(ResourceGroupNotFound\) Resource group 'badinput-nope' could not be found\.$`,
			[]string{"acr", "create", "--name", "badinputreg2", "-g", "badinput-nope", "--sku", "Basic"}},
		{"unknown resource group (show)", 1, `^ERROR: \(ResourceGroupNotFound\) `,
			[]string{"group", "show", "-n", "badinput-nope"}},
		{"unknown registry", 1, `^ERROR: \(ResourceNotFound\) .*'badinputnope'.*Microsoft\.ContainerRegistry/registries`,
			[]string{"acr", "show", "-n", "badinputnope"}},
		{"unknown role", 1, `^ERROR: Role 'Nope' doesn't exist\.$`,
			[]string{"role", "assignment", "create", "--role", "Nope", "--assignee-object-id", mi, "--scope", acrID}},
		{"unknown assignee (UPN)", 1, `^ERROR: Cannot find user or service principal in graph database for 'nobody@drydock\.local'\.`,
			[]string{"role", "assignment", "create", "--role", "AcrPull", "--assignee", "nobody@drydock.local", "--scope", acrID}},
		{"unknown assignee (GUID)", 1, `^ERROR: Cannot find user or service principal in graph database for '00000000-1111-2222-3333-444444444444'\.`,
			[]string{"role", "assignment", "create", "--role", "AcrPull", "--assignee", "00000000-1111-2222-3333-444444444444", "--scope", acrID}},
		{"duplicate role assignment", 1, `^ERROR: \(RoleAssignmentExists\) The role assignment already exists\.$`,
			[]string{"role", "assignment", "create", "--role", "AcrPull", "--assignee-object-id", mi,
				"--assignee-principal-type", "ServicePrincipal", "--scope", acrID}},
		{"unknown subscription name", 1, `^ERROR: Subscription 'nosuchsub' not found\. Check the spelling and casing and try again\.$`,
			[]string{"group", "list", "--subscription", "nosuchsub"}},
		{"unknown subscription id", 1, `^ERROR: \(SubscriptionNotFound\) `,
			[]string{"group", "list", "--subscription", "99999999-8888-7777-6666-555555555555"}},
		{"scope not starting with /", 2, `^ERROR: Invalid scope 'subscriptions/x'`,
			[]string{"role", "assignment", "list", "--scope", "subscriptions/x"}},

		// Usage errors: exit code 2.
		{"acr create without flags", 2, `^ERROR: the following arguments are required: --name/-n, --resource-group/-g, --sku$`,
			[]string{"acr", "create"}},
		{"acr create without --sku", 2, `^ERROR: the following arguments are required: --sku$`,
			[]string{"acr", "create", "-n", "badinputx", "-g", "badinput-rg"}},
		{"group create without --location", 2, `^ERROR: the following arguments are required: --location/-l$`,
			[]string{"group", "create", "-n", "badinput-x"}},
		{"role assignment create without --role", 2, `^ERROR: the following arguments are required: --role$`,
			[]string{"role", "assignment", "create", "--assignee", "x"}},
		{"role assignment create without assignee", 2, `^ERROR: usage error: --assignee STRING \| --assignee-object-id GUID$`,
			[]string{"role", "assignment", "create", "--role", "AcrPull", "--scope", acrID}},
		{"login without password", 2, `^ERROR: the following arguments are required: --password/-p$`,
			[]string{"login", "-u", "admin@drydock.local"}},
		{"bad sku", 2, `^ERROR: 'Gold' is not a valid value for '--sku'\.`,
			[]string{"acr", "create", "-n", "badinputx", "-g", "badinput-rg", "--sku", "Gold"}},
		{"bad output format", 2, `^ERROR: argument --output/-o: invalid choice: 'bogus'`,
			[]string{"group", "list", "-o", "bogus"}},
		{"bad query", 2, `^ERROR: argument --query: invalid jmespath_type value: '\[\.'$`,
			[]string{"group", "list", "--query", "[."}},
		{"unknown flag", 2, `^ERROR: unrecognized arguments: --bogus$`,
			[]string{"group", "list", "--bogus"}},
		{"unknown command", 2, `^ERROR: 'frobnicate' is misspelled or not recognized by the system\.$`,
			[]string{"acr", "frobnicate"}},
		{"flag without value", 2, `^ERROR: argument --name/-n: expected one argument$`,
			[]string{"acr", "show", "--name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			az.with(t).fails(tc.code, tc.want, tc.args...)
		})
	}

	// Nothing above changed state: the one registry and assignment remain.
	if got := az.tsv("acr", "list", "--query", "[?starts_with(name, 'badinput')].name"); got != "badinputreg" {
		t.Errorf("registries after the failures: %q", got)
	}
	if n := len(az.list("role", "assignment", "list", "--scope", acrID)); n != 1 {
		t.Errorf("%d role assignments at the registry, want 1", n)
	}
}

// TestNotLoggedIn: commands that need an account fail with az's message.
func TestNotLoggedIn(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	az := s.newCLI(t)
	az.fails(1, `^ERROR: Please run 'az login' to setup account\.$`, "group", "list")
	az.fails(1, `^ERROR: AADSTS50126: `, "login", "-u", "admin@drydock.local", "-p", "not-the-password")
	az.fails(1, `^ERROR: Please run 'az login' to setup account\.$`, "acr", "list")
	// Logging in and out again.
	az.ok("login", "-u", "admin@drydock.local", "-p", s.adminPassword, "-o", "none")
	if got := az.tsv("ad", "signed-in-user", "show", "--query", "userPrincipalName"); got != "admin@drydock.local" {
		t.Errorf("ad signed-in-user show = %q", got)
	}
	tok := az.obj("account", "get-access-token")
	if str(tok, "tokenType") != "Bearer" || !regexp.MustCompile(`^[\w-]+\.[\w-]+\.[\w-]+$`).MatchString(str(tok, "accessToken")) {
		t.Errorf("account get-access-token = %v", tok)
	}
	az.ok("logout")
	az.fails(1, `^ERROR: Please run 'az login' to setup account\.$`, "group", "list")
}
