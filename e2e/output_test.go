package e2e

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestOutputFormats: the global -o formats on one resource group (selected
// by a tag, so that other tests' groups on the shared server do not show).
func TestOutputFormats(t *testing.T) {
	_, az := sharedAdmin(t)
	sub := az.tsv("account", "show", "--query", "id")
	id := "/subscriptions/" + sub + "/resourceGroups/formats-rg"
	az.ok("group", "create", "-n", "formats-rg", "-l", "westus", "--tags", "e2e=formats", "owner=qa", "-o", "none")
	list := []string{"group", "list", "--tag", "e2e=formats"}
	out := func(args ...string) string { t.Helper(); return az.ok(append(append([]string{}, list...), args...)...) }

	var asJSON []any
	if err := json.Unmarshal([]byte(out()), &asJSON); err != nil || len(asJSON) != 1 {
		t.Fatalf("group list --tag: %v %v", asJSON, err)
	}
	want := []any{map[string]any{
		"id": id, "location": "westus", "managedBy": nil, "name": "formats-rg",
		"properties": map[string]any{"provisioningState": "Succeeded"},
		"tags":       map[string]any{"e2e": "formats", "owner": "qa"},
		"type":       "Microsoft.Resources/resourceGroups",
	}}
	if !reflect.DeepEqual(asJSON, want) {
		t.Errorf("-o json:\n got %v\nwant %v", asJSON, want)
	}
	if got := out("-o", "json"); !strings.HasPrefix(got, "[\n  {\n    \"id\": ") {
		t.Errorf("-o json is not indented by two spaces:\n%s", got)
	}

	yaml := out("-o", "yaml")
	wantYAML := "- id: " + id + "\n" +
		"  location: westus\n" +
		"  managedBy: null\n" +
		"  name: formats-rg\n" +
		"  properties:\n" +
		"    provisioningState: Succeeded\n" +
		"  tags:\n" +
		"    e2e: formats\n" +
		"    owner: qa\n" +
		"  type: Microsoft.Resources/resourceGroups\n"
	if yaml != wantYAML {
		t.Errorf("-o yaml:\n%s\nwant:\n%s", yaml, wantYAML)
	}

	// jsonc is JSON with colours.
	jsonc := out("-o", "jsonc")
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	if !ansi.MatchString(jsonc) {
		t.Errorf("-o jsonc has no colour codes:\n%q", jsonc)
	}
	var fromJSONC []any
	if err := json.Unmarshal([]byte(ansi.ReplaceAllString(jsonc, "")), &fromJSONC); err != nil || !reflect.DeepEqual(fromJSONC, want) {
		t.Errorf("-o jsonc without colours is not the JSON document (%v):\n%s", err, jsonc)
	}

	if got := out("-o", "none"); got != "" {
		t.Errorf("-o none printed %q", got)
	}
	if r := az.run("group", "create", "-n", "formats-rg", "-l", "westus", "--tags", "e2e=formats", "owner=qa", "-o", "none"); r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Errorf("group create -o none:\n%s", r)
	}

	table := strings.Split(out("-o", "table"), "\n")
	if len(table) != 4 || table[3] != "" {
		t.Fatalf("-o table: want header, rule, one row:\n%s", strings.Join(table, "\n"))
	}
	if f := strings.Fields(table[0]); !reflect.DeepEqual(f, []string{"Name", "Location", "Status"}) {
		t.Errorf("-o table header %q", table[0])
	}
	if !regexp.MustCompile(`^-+  -+  -+$`).MatchString(table[1]) {
		t.Errorf("-o table rule %q", table[1])
	}
	if f := strings.Fields(table[2]); !reflect.DeepEqual(f, []string{"formats-rg", "westus", "Succeeded"}) {
		t.Errorf("-o table row %q", table[2])
	}
	// Columns line up: each header starts where its column does.
	if strings.Index(table[0], "Location") != strings.Index(table[2], "westus") || strings.Index(table[0], "Status") != strings.Index(table[2], "Succeeded") {
		t.Errorf("-o table columns do not line up:\n%s", strings.Join(table, "\n"))
	}

	// tsv: values in key order, nested objects empty, null as None.
	if got, want := out("-o", "tsv"), id+"\twestus\tNone\tformats-rg\t\t\tMicrosoft.Resources/resourceGroups\n"; got != want {
		t.Errorf("-o tsv = %q, want %q", got, want)
	}
	if got := out("--query", "[].name", "-o", "tsv"); got != "formats-rg\n" {
		t.Errorf("--query [].name -o tsv = %q", got)
	}
	if got := out("--query", "[].{n:name, l:location}", "-o", "tsv"); got != "formats-rg\twestus\n" {
		t.Errorf("multi-select --query -o tsv = %q", got)
	}
	if got := out("--query", "[].{Name:name, Where:location}", "-o", "table"); got != "Name        Where\n----------  -------\nformats-rg  westus\n" {
		t.Errorf("--query with -o table:\n%s", got)
	}
	if got := out("--query", "[0].tags", "-o", "yaml"); got != "e2e: formats\nowner: qa\n" {
		t.Errorf("--query [0].tags -o yaml = %q", got)
	}
	if got := out("--query", "[0].tags.owner"); got != "\"qa\"\n" {
		t.Errorf("--query [0].tags.owner (json) = %q", got)
	}
	if got := out("--query", "length(@)", "-o", "tsv"); got != "1\n" {
		t.Errorf("--query length(@) -o tsv = %q", got)
	}
}
