// Package output renders command results the way az does: -o
// json|jsonc|table|tsv|yaml|none, after an optional JMESPath --query.
//
// The rules follow knack (the framework under the az CLI), which decides
// what az prints:
//
//   - A nil result (a command that returns None, or a query that selects
//     nothing) prints nothing in every format.
//   - json and jsonc print with two-space indentation and object keys
//     sorted, as knack's json.dumps(..., indent=2, sort_keys=True) does.
//   - yaml prints with keys sorted, as PyYAML's safe_dump does.
//   - table and tsv follow knack's _TableOutput and _TsvOutput, including
//     where key order comes from (see renderTable and renderTSV).
package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Format is an output format accepted by -o/--output.
type Format string

// The formats az accepts (yamlc is not offered).
const (
	JSON  Format = "json"
	JSONC Format = "jsonc"
	Table Format = "table"
	TSV   Format = "tsv"
	YAML  Format = "yaml"
	None  Format = "none"
)

// Formats lists the accepted formats in the order az's help shows them.
var Formats = []Format{JSON, JSONC, None, Table, TSV, YAML}

// ParseFormat parses an -o/--output value. Like az it ignores case.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Formats {
		if f == known {
			return f, nil
		}
	}
	quoted := make([]string, len(Formats))
	for i, known := range Formats {
		quoted[i] = "'" + string(known) + "'"
	}
	return "", fmt.Errorf("argument --output/-o: invalid choice: '%s' (choose from %s)", s, strings.Join(quoted, ", "))
}

// Render converts v to generic JSON, applies query to it when query is not
// empty, and writes the result to w in format.
//
// v is anything encoding/json can marshal; a json.RawMessage is taken as is,
// which keeps the order of its object keys for table output.
func Render(w io.Writer, v any, format Format, query string) error {
	switch format {
	case JSON, JSONC, Table, TSV, YAML, None:
	default:
		_, err := ParseFormat(string(format))
		return err
	}
	var q *compiledQuery
	if query != "" {
		var err error
		if q, err = compileQuery(query); err != nil {
			return err
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("output: encoding the result: %w", err)
	}
	doc, err := decodeOrdered(data)
	if err != nil {
		return fmt.Errorf("output: decoding the result: %w", err)
	}
	if q != nil {
		if doc, err = q.apply(doc); err != nil {
			return err
		}
	}
	if doc == nil || format == None {
		return nil
	}
	bw := bufio.NewWriter(w)
	switch format {
	case JSON:
		writeJSON(bw, doc, false)
	case JSONC:
		writeJSON(bw, doc, true)
	case YAML:
		err = writeYAML(bw, doc)
	case Table:
		err = renderTable(bw, doc, q != nil)
	case TSV:
		renderTSV(bw, doc)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// ValidateQuery reports whether query compiles, with the error az prints for
// a bad --query. Commands can call it before doing any work, as az checks
// --query while parsing arguments.
func ValidateQuery(query string) error {
	if query == "" {
		return nil
	}
	_, err := compileQuery(query)
	return err
}
