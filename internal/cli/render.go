package cli

import (
	"bytes"
	"encoding/json"
	"strings"
)

// toGeneric converts v to the generic JSON model (maps, slices, strings,
// json.Number, bool, nil), on which the az-style transforms work. Numbers
// keep their literals, so a float azmodel prints as Python does (128.0)
// stays so.
func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// addResourceGroups adds "resourceGroup" to every object, at any depth, whose
// "id" is a resource inside a resource group and that has no such key yet —
// what az does to every command's result before printing it.
func addResourceGroups(v any) {
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			addResourceGroups(x)
		}
	case map[string]any:
		if !hasKeyFold(t, "resourceGroup") {
			if id, ok := t["id"].(string); ok {
				if rg, ok := resourceGroupOf(id); ok {
					t["resourceGroup"] = rg
				}
			}
		}
		for k, x := range t {
			if k != "sourceVault" {
				addResourceGroups(x)
			}
		}
	}
}

// resourceGroupOf extracts the resource group of a resource ID of at least
// the form /subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}, as
// az's _parse_id does (so a resource group's own ID yields nothing).
func resourceGroupOf(id string) (string, bool) {
	parts := strings.Split(id, "/")
	if len(parts) < 9 || parts[0] != "" || !strings.EqualFold(parts[3], "resourceGroups") || parts[4] == "" {
		return "", false
	}
	return parts[4], true
}

func hasKeyFold(m map[string]any, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// flatten lifts the keys of an ARM resource's "properties" to the top level,
// roughly as the az SDK models serialize them, for the resources azmodel does
// not describe. Top-level keys win over properties of the same name. Tracked
// resources (those with a location) get an empty "tags" when the server sent
// none.
func flatten(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "properties" {
			out[k] = v
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for k, v := range props {
			if _, exists := out[k]; !exists {
				out[k] = v
			}
		}
	}
	if _, tracked := out["location"]; tracked {
		if tags, ok := out["tags"]; !ok || tags == nil {
			out["tags"] = map[string]any{}
		}
	}
	return out
}

// str reads a string at a path of object keys, "" when absent.
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = obj[p]
	}
	s, _ := cur.(string)
	return s
}
