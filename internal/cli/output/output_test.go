package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func render(t *testing.T, v any, f Format, q string) (string, error) {
	t.Helper()
	var b bytes.Buffer
	err := Render(&b, v, f, q)
	return b.String(), err
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{
		{"json", JSON}, {"jsonc", JSONC}, {"table", Table}, {"tsv", TSV},
		{"yaml", YAML}, {"none", None}, {"JSON", JSON}, {" Table ", Table},
	} {
		got, err := ParseFormat(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "xml", "yamlc", "js on"} {
		_, err := ParseFormat(in)
		if err == nil {
			t.Errorf("ParseFormat(%q) succeeded", in)
			continue
		}
		want := "argument --output/-o: invalid choice: '" + in + "' (choose from 'json', 'jsonc', 'none', 'table', 'tsv', 'yaml')"
		if err.Error() != want {
			t.Errorf("ParseFormat(%q) error\n got %s\nwant %s", in, err, want)
		}
	}
}

// registries is a list as a command would return it; the key order is the
// order a Go struct marshals in, not sorted.
var registries = json.RawMessage(`[
 {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1",
  "name": "acr1", "type": "Microsoft.ContainerRegistry/registries", "location": "eastus",
  "resourceGroup": "rg", "adminUserEnabled": false, "sku": {"name": "Basic"},
  "tags": {}, "zones": [], "etag": "e1", "policies": null, "storageGb": 10},
 {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr-two",
  "name": "acr-two", "type": "Microsoft.ContainerRegistry/registries", "location": "westeurope",
  "resourceGroup": "rg", "adminUserEnabled": true, "sku": {"name": "Premium"},
  "tags": {"env": "dev"}, "zones": ["1", "2"], "etag": "e2", "policies": null, "storageGb": 1.5}
]`)

type cluster struct {
	Name              string            `json:"name"`
	ResourceGroup     string            `json:"resourceGroup"`
	KubernetesVersion string            `json:"kubernetesVersion"`
	NodeCount         int64             `json:"nodeCount"`
	Private           bool              `json:"private"`
	Tags              map[string]string `json:"tags"`
}

func TestRender(t *testing.T) {
	clusters := []cluster{
		{Name: "aks1", ResourceGroup: "rg", KubernetesVersion: "1.31.2", NodeCount: 3},
		{Name: "aks-second", ResourceGroup: "other", KubernetesVersion: "1.30.0", NodeCount: 12, Private: true, Tags: map[string]string{"a": "b"}},
	}
	tests := []struct {
		name   string
		v      any
		format Format
		query  string
		want   string
	}{
		// Nothing at all for a nil result, whatever the format.
		{"nil json", nil, JSON, "", ""},
		{"nil table", nil, Table, "", ""},
		{"nil tsv", nil, TSV, "", ""},
		{"nil yaml", nil, YAML, "", ""},
		{"nil pointer", (*cluster)(nil), JSON, "", ""},
		{"query selects nothing", registries, JSON, "[0].missing", ""},
		{"none", registries, None, "", ""},
		{"none with query", registries, None, "[0].name", ""},

		// json: two-space indent, sorted keys, Python's separators.
		{"json object", clusters[0], JSON, "", lines(
			`{`,
			`  "kubernetesVersion": "1.31.2",`,
			`  "name": "aks1",`,
			`  "nodeCount": 3,`,
			`  "private": false,`,
			`  "resourceGroup": "rg",`,
			`  "tags": null`,
			`}`)},
		{"json nested and empty", json.RawMessage(`{"b": [1, {"y": [], "x": {}}], "a": {"d": true, "c": null}}`), JSON, "", lines(
			`{`,
			`  "a": {`,
			`    "c": null,`,
			`    "d": true`,
			`  },`,
			`  "b": [`,
			`    1,`,
			`    {`,
			`      "x": {},`,
			`      "y": []`,
			`    }`,
			`  ]`,
			`}`)},
		{"json empty list", []string{}, JSON, "", "[]\n"},
		{"json empty object", map[string]int{}, JSON, "", "{}\n"},
		{"json string", "hello", JSON, "", "\"hello\"\n"},
		{"json escapes like python", "<a&b> \"q\" \\ é 日本 \n\t\x01\u2028", JSON, "",
			`"<a&b> \"q\" \\ é 日本 \n\t\u0001` + "\u2028\"\n"},
		{"json number literals kept", json.RawMessage(`{"big": 9007199254740993, "f": 1.50, "e": 1e-7}`), JSON, "", lines(
			`{`,
			`  "big": 9007199254740993,`,
			`  "e": 1e-7,`,
			`  "f": 1.50`,
			`}`)},

		// Queries.
		{"json query field", registries, JSON, "[1].name", "\"acr-two\"\n"},
		{"json query projection sorts keys", registries, JSON, "[].{Registry: name, Location: location}", lines(
			`[`,
			`  {`,
			`    "Location": "eastus",`,
			`    "Registry": "acr1"`,
			`  },`,
			`  {`,
			`    "Location": "westeurope",`,
			`    "Registry": "acr-two"`,
			`  }`,
			`]`)},
		{"json query filter", registries, JSON, "[?adminUserEnabled].sku", lines(
			`[`,
			`  {`,
			`    "name": "Premium"`,
			`  }`,
			`]`)},
		{"json query function", registries, JSON, "length(@)", "2\n"},
		{"json query numbers", registries, JSON, "[].storageGb", lines(`[`, `  10,`, `  1.5`, `]`)},
		{"json query big number survives", json.RawMessage(`[{"n": 9007199254740993}, {"n": 5}]`), JSON, "[].n",
			lines(`[`, `  9007199254740993,`, `  5`, `]`)},
		// Two literals that are the same float64 cannot be told apart.
		{"json query ambiguous big numbers", json.RawMessage(`[{"n": 9007199254740993}, {"n": 9007199254740992}]`), JSON, "[].n",
			lines(`[`, `  9007199254740992,`, `  9007199254740992`, `]`)},
		{"json query arithmetic", json.RawMessage(`{"a": 7}`), JSON, "a / `2`", "3.5\n"},
		{"json query struct", clusters, JSON, "[?nodeCount > `5`].name", lines(`[`, `  "aks-second"`, `]`)},

		// jsonc: json with colours.
		{"jsonc", json.RawMessage(`{"s": "x", "n": 1, "b": true, "z": null, "l": []}`), JSONC, "", lines(
			`{`,
			"  \x1b[34m\"b\"\x1b[0m: \x1b[35mtrue\x1b[0m,",
			"  \x1b[34m\"l\"\x1b[0m: [],",
			"  \x1b[34m\"n\"\x1b[0m: \x1b[36m1\x1b[0m,",
			"  \x1b[34m\"s\"\x1b[0m: \x1b[32m\"x\"\x1b[0m,",
			"  \x1b[34m\"z\"\x1b[0m: \x1b[35mnull\x1b[0m",
			`}`)},

		// table: scalar columns only, id/type/etag and nulls left out,
		// sorted without a query, header width + 2 minimum.
		{"table list", registries, Table, "", lines(
			`AdminUserEnabled    Location    Name     ResourceGroup    StorageGb`,
			`------------------  ----------  -------  ---------------  -----------`,
			`False               eastus      acr1     rg               10`,
			`True                westeurope  acr-two  rg               1.5`)},
		{"table single object", clusters[1], Table, "", lines(
			`KubernetesVersion    Name        NodeCount    Private    ResourceGroup`,
			`-------------------  ----------  -----------  ---------  ---------------`,
			`1.30.0               aks-second  12           True       other`)},
		{"table query keeps input order", registries, Table, "[0]", lines(
			`Name    Location    ResourceGroup    AdminUserEnabled    StorageGb`,
			`------  ----------  ---------------  ------------------  -----------`,
			`acr1    eastus      rg               False               10`)},
		{"table query keeps struct order", clusters, Table, "[]", lines(
			`Name        ResourceGroup    KubernetesVersion    NodeCount    Private`,
			`----------  ---------------  -------------------  -----------  ---------`,
			`aks1        rg               1.31.2               3            False`,
			`aks-second  other            1.30.0               12           True`)},
		{"table query hash order", registries, Table, "[].{Registry: name, Sku: sku.name, Admin: adminUserEnabled}", lines(
			`Registry    Sku      Admin`,
			`----------  -------  -------`,
			`acr1        Basic    False`,
			`acr-two     Premium  True`)},
		{"table wide cells", json.RawMessage(`[{"name": "a-rather-long-name"}, {"name": "x"}]`), Table, "", lines(
			`Name`,
			`------------------`,
			`a-rather-long-name`,
			`x`)},
		{"table columns first seen", json.RawMessage(`[{"b": 1}, {"a": 2, "c": null}, {"b": 3, "a": 4}]`), Table, "", lines(
			`B    A`,
			`---  ---`,
			`1`,
			`     2`,
			`3    4`)},
		{"table scalars", registries, Table, "[].name", lines(`Result`, `--------`, `acr1`, `acr-two`)},
		{"table scalar", registries, Table, "[0].location", lines(`Result`, `--------`, `eastus`)},
		{"table lists", registries, Table, "[].[name, location]", lines(
			`Column1    Column2`,
			`---------  ----------`,
			`acr1       eastus`,
			`acr-two    westeurope`)},
		{"table empty list", []int{}, Table, "", "\n"},
		{"table unicode width", json.RawMessage(`[{"name": "café"}, {"name": "日本"}]`), Table, "", lines(`Name`, `------`, `café`, `日本`)},

		// tsv: sorted values without a query, placeholders for nested values.
		{"tsv list", registries, TSV, "", lines(
			"False\te1\t/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1\teastus\tacr1\tNone\trg\t\t10\t\tMicrosoft.ContainerRegistry/registries\t0",
			"True\te2\t/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr-two\twesteurope\tacr-two\tNone\trg\t\t1.5\t\tMicrosoft.ContainerRegistry/registries\t2")},
		{"tsv struct", clusters[0], TSV, "", "1.31.2\taks1\t3\tFalse\trg\tNone\n"},
		{"tsv query scalar", registries, TSV, "[0].id", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1\n"},
		{"tsv query scalars", registries, TSV, "[].name", "acr1\nacr-two\n"},
		{"tsv query bool", registries, TSV, "[0].adminUserEnabled", "false\n"},
		{"tsv query null in row", registries, TSV, "[].[name, policies]", "acr1\tNone\nacr-two\tNone\n"},
		{"tsv query list is rows", registries, TSV, "[0].[name, policies]", "acr1\nNone\n"},
		{"tsv query projection drops nulls", registries, TSV, "[].policies", ""},
		{"tsv query hash order", registries, TSV, "[].{n: name, l: location, z: zones, a: adminUserEnabled}", lines(
			"acr1\teastus\t0\tFalse",
			"acr-two\twesteurope\t2\tTrue")},
		{"tsv query multiselect list", registries, TSV, "[].[location, name]", "eastus\tacr1\nwesteurope\tacr-two\n"},
		{"tsv query passthrough object sorted", registries, TSV, "[0].sku", "Basic\n"},
		{"tsv number", 42, TSV, "", "42\n"},
		{"tsv empty list", []string{}, TSV, "", ""},

		// yaml: sorted keys.
		{"yaml", clusters[1], YAML, "", lines(
			`kubernetesVersion: 1.30.0`,
			`name: aks-second`,
			`nodeCount: 12`,
			`private: true`,
			`resourceGroup: other`,
			`tags:`,
			`  a: b`)},
		{"yaml list query", registries, YAML, "[].{name: name, zones: zones}", lines(
			`- name: acr1`,
			`  zones: []`,
			`- name: acr-two`,
			`  zones:`,
			`  - "1"`,
			`  - "2"`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(t, tc.v, tc.format, tc.query)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tc.want {
				t.Errorf("Render(%s, %q)\n got:\n%s\nwant:\n%s\n got %q\nwant %q", tc.format, tc.query, got, tc.want, got, tc.want)
			}
		})
	}
}

func TestRenderQueryDoesNotChangeInput(t *testing.T) {
	// Rendering twice with different queries gives the same answers, so the
	// query never rewrites the decoded document.
	for range 2 {
		got, err := render(t, registries, TSV, "[].{n: name}")
		if err != nil || got != "acr1\nacr-two\n" {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v       any
		format  Format
		query   string
		wantErr string
	}{
		{"bad query", registries, JSON, "[].{", "argument --query: invalid jmespath_type value: '[].{'"},
		{"bad query unclosed filter", registries, Table, "[?name=='x'", "argument --query: invalid jmespath_type value: '[?name=='x''"},
		{"bad query checked before nil result", nil, JSON, "foo[", "argument --query: invalid jmespath_type value: 'foo['"},
		{"bad format", registries, Format("xml"), "", "argument --output/-o: invalid choice: 'xml' (choose from 'json', 'jsonc', 'none', 'table', 'tsv', 'yaml')"},
		{"empty format", registries, Format(""), "", "invalid choice: ''"},
		{"function on wrong type", registries, JSON, "length(`1`)", "invalid type"},
		{"table without columns", json.RawMessage(`[{"a": {}}, {"b": []}]`), Table, "", "Table output unavailable"},
		{"unmarshalable value", func() {}, JSON, "", "encoding the result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Render(&b, tc.v, tc.format, tc.query)
			if err == nil {
				t.Fatalf("Render succeeded, printed %q", b.String())
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if b.Len() != 0 {
				t.Errorf("printed %q despite the error", b.String())
			}
		})
	}
}

func TestQueryError(t *testing.T) {
	err := ValidateQuery("[?")
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Query != "[?" || qe.Err == nil {
		t.Fatalf("ValidateQuery: %#v", err)
	}
	if err := ValidateQuery(""); err != nil {
		t.Errorf("empty query: %v", err)
	}
	if err := ValidateQuery("[].{name: name, rg: resourceGroup} | sort_by(@, &name)"); err != nil {
		t.Errorf("good query: %v", err)
	}
}
