// Package azmodel gives an ARM response the shape az prints it in.
//
// az does not print what ARM sends: it deserializes the response into the
// Python SDK's model and prints knack's todict of that model. So every
// attribute of the model is there (null when ARM did not send it), under its
// Python name in camelCase (osDiskSizeGB prints as osDiskSizeGb, enableRBAC
// as enableRbac); flattened attributes (properties.loginServer) are lifted;
// datetimes print as Python's isoformat (microseconds, "+00:00"); keys of
// dictionaries (tags, nodeLabels, userAssignedIdentities) stay as they are;
// and keys a model does not know are kept as sent (the SDK's additional
// properties), except inside a flattened "properties", where they are lost.
//
// models.json describes the models az deserializes, at the api-versions az
// uses; scripts/gen-az-models.py writes it from the az installed on the
// machine, with testdata/*.az.json: the SDK's own output for the
// testdata/*.arm.json responses, which the tests compare Render with.
package azmodel

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The models the CLI renders: what az's commands of a resource deserialize.
const (
	ResourceGroup  = "ResourceGroup"  // az group create|show|list
	Registry       = "Registry"       // az acr create|show|list|update
	Identity       = "Identity"       // az identity create|show|list
	ManagedCluster = "ManagedCluster" // az aks create|show|list|update
	AgentPool      = "AgentPool"      // az aks nodepool add|show|list|scale
	RoleAssignment = "RoleAssignment" // az role assignment create|list
	RoleDefinition = "RoleDefinition" // az role definition list
)

//go:embed models.json
var modelsJSON []byte

// attribute is one attribute of a model: the key az prints it under, where
// it is in the REST document (more than one segment when flattened) and its
// msrest type: a basic type, a model of the same package, [T] or {T}.
type attribute struct {
	out  string
	path []string
	typ  string
}

type model struct {
	attrs []attribute
	// known holds the first segment of each attribute's path: a key of
	// the REST document that is none of these is an additional property.
	known map[string]bool
}

// schema is models.json: models per SDK package, and the package and model
// of each root.
type schema struct {
	AZ       string                            `json:"az"`
	Roots    map[string][2]string              `json:"roots"`
	Packages map[string]map[string][][3]string `json:"packages"`
	models   map[string]map[string]*model      // package → name → model
}

var models = mustLoad(modelsJSON)

func mustLoad(data []byte) *schema {
	s, err := load(data)
	if err != nil {
		panic("azmodel: models.json: " + err.Error())
	}
	return s
}

func load(data []byte) (*schema, error) {
	var s schema
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	s.models = map[string]map[string]*model{}
	for pkg, ms := range s.Packages {
		s.models[pkg] = map[string]*model{}
		for name, attrs := range ms {
			m := &model{known: map[string]bool{}}
			for _, a := range attrs {
				path := strings.Split(a[1], ".")
				m.attrs = append(m.attrs, attribute{out: a[0], path: path, typ: a[2]})
				m.known[path[0]] = true
			}
			s.models[pkg][name] = m
		}
	}
	for pkg, ms := range s.models {
		for name, m := range ms {
			for _, a := range m.attrs {
				if t := elementType(a.typ); !basicTypes[t] && ms[t] == nil {
					return nil, fmt.Errorf("%s %s.%s: unknown type %q", pkg, name, a.out, a.typ)
				}
			}
		}
	}
	for root, ref := range s.Roots {
		if s.models[ref[0]][ref[1]] == nil {
			return nil, fmt.Errorf("root %s: no model %s in %s", root, ref[1], ref[0])
		}
	}
	return &s, nil
}

// AZVersion is the version of the az whose models models.json describes.
func AZVersion() string { return models.AZ }

// Render returns what az prints for doc, an ARM response (decoded JSON)
// that az deserializes as the model root, one of this package's constants.
// It does not change doc. A nil doc renders as nil.
func Render(root string, doc map[string]any) map[string]any {
	if doc == nil {
		return nil
	}
	pkg, m := models.root(root)
	out, _ := renderModel(pkg, m, doc).(map[string]any)
	return out
}

// RenderAll renders each response of a list as Render does.
func RenderAll(root string, docs []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(docs))
	for _, d := range docs {
		out = append(out, Render(root, d))
	}
	return out
}

func (s *schema) root(name string) (map[string]*model, *model) {
	ref, ok := s.Roots[name]
	if !ok {
		panic("azmodel: no model " + name + " in models.json (add it to ROOTS in scripts/gen-az-models.py)")
	}
	pkg := s.models[ref[0]]
	return pkg, pkg[ref[1]]
}

// basicTypes are the msrest types value converts (gen-az-models.py refuses
// models that use others).
var basicTypes = map[string]bool{"str": true, "bool": true, "int": true, "long": true, "float": true, "object": true, "iso-8601": true, "date": true}

// elementType strips [..] and {..} off a type.
func elementType(t string) string {
	for len(t) >= 2 && (t[0] == '[' && t[len(t)-1] == ']' || t[0] == '{' && t[len(t)-1] == '}') {
		t = t[1 : len(t)-1]
	}
	return t
}

// renderModel is msrest's Deserializer._deserialize followed by knack's
// todict and az's remove_additional_prop_layer.
func renderModel(pkg map[string]*model, m *model, raw any) any {
	doc, ok := raw.(map[string]any)
	if !ok {
		return raw // msrest fails here; show what came
	}
	out := make(map[string]any, len(m.attrs))
	for _, a := range m.attrs {
		out[a.out] = value(pkg, a.typ, extract(doc, a.path))
	}
	for k, v := range doc {
		if !m.known[k] {
			out[k] = v
		}
	}
	return out
}

// extract is msrest's rest_key_extractor: it follows a flattened key's
// path, going back to the whole document when a segment is absent (so
// without "properties" the attribute is read at the top level), and stops
// with nil at a null.
func extract(doc map[string]any, path []string) any {
	cur := doc
	for _, seg := range path[:len(path)-1] {
		next, present := cur[seg]
		if !present {
			cur = doc
			continue
		}
		if next == nil {
			return nil
		}
		obj, ok := next.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj
	}
	return cur[path[len(path)-1]]
}

// value is msrest's deserialize_data of raw as typ, then todict. A value
// that msrest would refuse (az then fails) is returned as it came.
func value(pkg map[string]*model, typ string, raw any) any {
	if raw == nil {
		return nil
	}
	if n := len(typ); n >= 2 && (typ[0] == '[' && typ[n-1] == ']') {
		list, ok := raw.([]any)
		if !ok {
			return raw
		}
		out := make([]any, len(list))
		for i, x := range list {
			out[i] = value(pkg, typ[1:n-1], x)
		}
		return out
	}
	if n := len(typ); n >= 2 && (typ[0] == '{' && typ[n-1] == '}') {
		obj, ok := raw.(map[string]any)
		if !ok {
			return raw
		}
		out := make(map[string]any, len(obj))
		for k, x := range obj {
			out[k] = value(pkg, typ[1:n-1], x)
		}
		return out
	}
	var v any
	ok := true
	switch typ {
	case "object":
		return raw
	case "str":
		v, ok = toStr(raw)
	case "bool":
		v, ok = toBool(raw)
	case "int", "long":
		v, ok = toInt(raw)
	case "float":
		v, ok = toFloat(raw)
	case "iso-8601":
		v, ok = isoDatetime(raw)
	case "date":
		v, ok = isoDate(raw)
	default:
		if m := pkg[typ]; m != nil {
			return renderModel(pkg, m, raw)
		}
		return raw
	}
	if !ok {
		return raw
	}
	return v
}

// number reads a JSON number (float64 from encoding/json, or json.Number).
func number(raw any) (f float64, integral bool, ok bool) {
	switch t := raw.(type) {
	case float64:
		return t, t == math.Trunc(t) && !math.IsInf(t, 0), true
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return 0, false, false
		}
		return f, !strings.ContainsAny(string(t), ".eE"), true
	case int:
		return float64(t), true, true
	case int64:
		return float64(t), true, true
	}
	return 0, false, false
}

// toStr is Python's str() of what json.loads made of the value.
func toStr(raw any) (any, bool) {
	switch t := raw.(type) {
	case string:
		return t, true
	case bool:
		if t {
			return "True", true
		}
		return "False", true
	}
	if f, integral, ok := number(raw); ok {
		if integral {
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
		n, ok := pyFloat(f)
		return string(n), ok
	}
	return nil, false
}

// toBool is msrest's deserialize_basic for "bool".
func toBool(raw any) (any, bool) {
	switch t := raw.(type) {
	case bool:
		return t, true
	case string:
		switch strings.ToLower(t) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
		return nil, false
	}
	if f, _, ok := number(raw); ok && (f == 0 || f == 1) {
		return f == 1, true
	}
	return nil, false
}

// toInt is Python's int(): numbers truncate, strings must be integers.
func toInt(raw any) (any, bool) {
	switch t := raw.(type) {
	case bool:
		if t {
			return int64(1), true
		}
		return int64(0), true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		return i, err == nil
	}
	if f, _, ok := number(raw); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return int64(f), true
	}
	return nil, false
}

// toFloat is Python's float(), printed as json.dumps prints a float.
func toFloat(raw any) (any, bool) {
	switch t := raw.(type) {
	case bool:
		if t {
			return json.Number("1.0"), true
		}
		return json.Number("0.0"), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return nil, false
		}
		return pyFloat(f)
	}
	if f, _, ok := number(raw); ok {
		return pyFloat(f)
	}
	return nil, false
}

// pyFloat is Python's repr of a float: the shortest digits that round-trip,
// with ".0" on integral values and an exponent below 1e-4 and from 1e16.
func pyFloat(f float64) (json.Number, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0", true
		}
		return "0.0", true
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return json.Number(e), true
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return json.Number(s), true
}

// isoPattern is what isodate.parse_datetime accepts of the extended format
// ARM uses: date, time, optional fraction, optional offset.
var isoPattern = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$`)

// isoDatetime is msrest's deserialize_iso (fraction truncated to
// microseconds, then isodate) printed by datetime.isoformat: microseconds
// only when not zero, the offset as ±HH:MM, none for a naive time.
func isoDatetime(raw any) (any, bool) {
	s, ok := raw.(string)
	if !ok {
		return nil, false
	}
	m := isoPattern.FindStringSubmatch(strings.ToUpper(s))
	if m == nil {
		return nil, false
	}
	var f [6]int
	for i := range f {
		f[i], _ = strconv.Atoi(m[i+1])
	}
	if !validDate(f[0], f[1], f[2]) || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return nil, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%04d-%02d-%02dT%02d:%02d:%02d", f[0], f[1], f[2], f[3], f[4], f[5])
	if frac := m[7]; frac != "" {
		frac = (frac + "000000")[:6]
		if us, _ := strconv.Atoi(frac); us != 0 {
			b.WriteString("." + frac)
		}
	}
	switch tz := m[8]; {
	case tz == "":
	case tz == "Z":
		b.WriteString("+00:00")
	default:
		digits := strings.ReplaceAll(tz[1:], ":", "")
		hh, mm := digits[:2], "00"
		if len(digits) == 4 {
			mm = digits[2:]
		}
		sign := tz[:1]
		if hh == "00" && mm == "00" {
			sign = "+"
		}
		h, _ := strconv.Atoi(hh)
		mi, _ := strconv.Atoi(mm)
		if h > 23 || mi > 59 {
			return nil, false
		}
		b.WriteString(sign + hh + ":" + mm)
	}
	return b.String(), true
}

var datePattern = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)

// isoDate is msrest's deserialize_date printed by date.isoformat.
func isoDate(raw any) (any, bool) {
	s, ok := raw.(string)
	if !ok {
		return nil, false
	}
	m := datePattern.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	return s, validDate(y, mo, d)
}

func validDate(y, m, d int) bool {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}
