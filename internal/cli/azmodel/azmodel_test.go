package azmodel

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/cli/output"
)

// TestGolden: for each testdata/*.arm.json, Render printed as the CLI prints
// JSON is byte for byte what the Python SDK and knack printed for it
// (testdata/*.az.json, written by scripts/gen-az-models.py).
func TestGolden(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/*.arm.json")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, fixture := range fixtures {
		name := strings.TrimSuffix(filepath.Base(fixture), ".arm.json")
		t.Run(name, func(t *testing.T) {
			var c struct {
				Model string          `json:"model"`
				ARM   json.RawMessage `json:"arm"`
			}
			readJSON(t, fixture, &c)
			var got any
			if bytes.HasPrefix(bytes.TrimSpace(c.ARM), []byte("[")) {
				var docs []map[string]any
				decode(t, c.ARM, &docs)
				got = RenderAll(c.Model, docs)
			} else {
				var doc map[string]any
				decode(t, c.ARM, &doc)
				got = Render(c.Model, doc)
			}
			var buf bytes.Buffer
			if err := output.Render(&buf, got, output.JSON, ""); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", name+".az.json"))
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != string(want) {
				t.Errorf("Render(%s) differs from az's output:\n%s", c.Model, lineDiff(string(want), buf.String()))
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, data, v)
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// lineDiff lists the lines where want and got first differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)) && b.Len() < 2000; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  az:      " + wl + "\n  drydock: " + gl + "\n")
		}
	}
	return b.String()
}

// TestRoots: every model the CLI names is in models.json.
func TestRoots(t *testing.T) {
	for _, root := range []string{ResourceGroup, Registry, Identity, ManagedCluster, AgentPool, RoleAssignment, RoleDefinition} {
		if _, ok := models.Roots[root]; !ok {
			t.Errorf("models.json has no root %s", root)
		}
	}
	if AZVersion() == "" {
		t.Error("models.json names no az version")
	}
}

// testModels is a small schema exercising each rule.
const testModels = `{
  "az": "test",
  "roots": {"Thing": ["pkg@1", "Thing"]},
  "packages": {"pkg@1": {
    "Thing": [
      ["id", "id", "str"],
      ["tags", "tags", "{str}"],
      ["enableRbac", "properties.enableRBAC", "bool"],
      ["osDiskSizeGb", "properties.osDiskSizeGB", "int"],
      ["price", "properties.price", "float"],
      ["createdAt", "properties.createdAt", "iso-8601"],
      ["day", "properties.day", "date"],
      ["parts", "properties.parts", "[Part]"],
      ["partsByName", "properties.partsByName", "{Part}"],
      ["names", "properties.names", "[str]"],
      ["raw", "properties.raw", "object"],
      ["deep", "properties.inner.deep", "str"]
    ],
    "Part": [
      ["name", "name", "str"],
      ["sizeGb", "sizeGB", "long"]
    ]
  }}
}`

func TestRender(t *testing.T) {
	s, err := load([]byte(testModels))
	if err != nil {
		t.Fatal(err)
	}
	saved := models
	models = s
	t.Cleanup(func() { models = saved })

	// nulls: every attribute of the model, null when absent.
	empty := map[string]any{
		"id": nil, "tags": nil, "enableRbac": nil, "osDiskSizeGb": nil, "price": nil, "createdAt": nil, "day": nil,
		"parts": nil, "partsByName": nil, "names": nil, "raw": nil, "deep": nil,
	}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range empty {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		arm  string
		want map[string]any
	}{
		{"nulls", `{}`, empty},
		{"renames and flattening", `{"id": "x", "properties": {"enableRBAC": true, "osDiskSizeGB": 128}}`,
			with("id", "x", "enableRbac", true, "osDiskSizeGb", int64(128))},
		{"dictionary keys untouched", `{"tags": {"Some_Key": "v", "a.b": "c", "osDiskSizeGB": "d"}}`,
			with("tags", map[string]any{"Some_Key": "v", "a.b": "c", "osDiskSizeGB": "d"})},
		{"timestamp truncated to microseconds", `{"properties": {"createdAt": "2026-12-04T22:17:28.729441043Z"}}`,
			with("createdAt", "2026-12-04T22:17:28.729441+00:00")},
		{"timestamp with a zero fraction", `{"properties": {"createdAt": "2026-01-02T03:04:05.000Z"}}`,
			with("createdAt", "2026-01-02T03:04:05+00:00")},
		{"timestamp without a fraction", `{"properties": {"createdAt": "2026-01-02T03:04:05Z"}}`,
			with("createdAt", "2026-01-02T03:04:05+00:00")},
		{"timestamp with a short fraction and an offset", `{"properties": {"createdAt": "2026-01-02T03:04:05.5-05:30"}}`,
			with("createdAt", "2026-01-02T03:04:05.500000-05:30")},
		{"naive timestamp", `{"properties": {"createdAt": "2026-01-02T03:04:05.123"}}`,
			with("createdAt", "2026-01-02T03:04:05.123000")},
		{"date", `{"properties": {"day": "2026-02-28"}}`, with("day", "2026-02-28")},
		{"lists of models", `{"properties": {"parts": [{"name": "a", "sizeGB": 1}, {"name": "b", "extra_key": 2}, null]}}`,
			with("parts", []any{
				map[string]any{"name": "a", "sizeGb": int64(1)},
				map[string]any{"name": "b", "sizeGb": nil, "extra_key": float64(2)},
				nil,
			})},
		{"dictionaries of models", `{"properties": {"partsByName": {"First_Part": {"sizeGB": 2}}}}`,
			with("partsByName", map[string]any{"First_Part": map[string]any{"name": nil, "sizeGb": int64(2)}})},
		{"floats print as Python's", `{"properties": {"price": -1}}`, with("price", json.Number("-1.0"))},
		{"object stays as sent", `{"properties": {"raw": {"a_b": [1, "x"]}}}`, with("raw", map[string]any{"a_b": []any{float64(1), "x"}})},
		{"basic conversions", `{"id": 5, "properties": {"enableRBAC": "True", "osDiskSizeGB": "30", "names": ["a", 2.5, false]}}`,
			with("id", "5", "enableRbac", true, "osDiskSizeGb", int64(30), "names", []any{"a", "2.5", "False"})},
		{"unknown keys kept at the top, lost in properties", `{"future_Key": {"x": 1}, "properties": {"futureProperty": 1}}`,
			with("future_Key", map[string]any{"x": float64(1)})},
		{"keys are case-sensitive", `{"properties": {"EnableRBAC": true}}`, empty},
		{"without properties, flattened keys are read at the top (and kept as unknown)", `{"enableRBAC": true}`,
			with("enableRbac", true, "enableRBAC", true)},
		{"null properties", `{"properties": null}`, empty},
		{"nested flattening", `{"properties": {"inner": {"deep": "d"}}}`, with("deep", "d")},
		{"values msrest refuses stay as sent", `{"properties": {"createdAt": "yesterday", "parts": "none"}}`,
			with("createdAt", "yesterday", "parts", "none")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var doc map[string]any
			decode(t, []byte(c.arm), &doc)
			got := Render("Thing", doc)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Render(%s)\n got %#v\nwant %#v", c.arm, got, c.want)
			}
		})
	}
	if Render("Thing", nil) != nil {
		t.Error("Render(nil) is not nil")
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", -1: "-1.0", 0.5: "0.5", 1234567: "1234567.0", 1e15: "1000000000000000.0", 1e16: "1e+16",
		1e17: "1e+17", 1.5e-5: "1.5e-05", 0.0001: "0.0001", 0.30000000000000004: "0.30000000000000004",
	} {
		if got, _ := pyFloat(f); string(got) != want {
			t.Errorf("pyFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestISODatetime(t *testing.T) {
	for in, want := range map[string]any{
		"2026-12-04T22:17:28.729441043Z": "2026-12-04T22:17:28.729441+00:00",
		"2026-12-04T22:17:28Z":           "2026-12-04T22:17:28+00:00",
		"2026-12-04T22:17:28.000000000Z": "2026-12-04T22:17:28+00:00",
		"2026-12-04T22:17:28.000001Z":    "2026-12-04T22:17:28.000001+00:00",
		"2026-12-04t22:17:28z":           "2026-12-04T22:17:28+00:00",
		"2026-12-04T22:17:28+0200":       "2026-12-04T22:17:28+02:00",
		"2026-12-04T22:17:28-00:00":      "2026-12-04T22:17:28+00:00",
		"2026-12-04T22:17:28":            "2026-12-04T22:17:28",
		"2026-02-30T00:00:00Z":           nil,
		"2026-12-04 22:17:28Z":           nil,
		"not a date":                     nil,
	} {
		got, ok := isoDatetime(in)
		if !ok {
			got = nil
		}
		if got != want {
			t.Errorf("isoDatetime(%q) = %v, want %v", in, got, want)
		}
	}
}
