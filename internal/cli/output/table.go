package output

import (
	"bufio"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errNoTable is what az says when no item has a column to show.
var errNoTable = errors.New("Table output unavailable. Use the --query option to specify an appropriate query. Use --debug for more info.")

// tableSkipKeys are left out of automatic tables, as knack does.
var tableSkipKeys = []string{"id", "type", "etag"}

// renderTable prints doc like knack's _TableOutput with tabulate's "simple"
// format. Each item of a list (or the single result) is one row:
//
//   - an object contributes its scalar, non-null values; nested objects and
//     arrays and the keys id, type and etag are left out. Without a query
//     the keys are sorted; with one they keep the order the query result
//     has. The header is the key with its first letter upper-cased.
//   - an array contributes columns Column1, Column2, ...
//   - a scalar contributes a column Result.
//
// Columns appear in first-seen order; cells are left-aligned; a column is as
// wide as its widest cell, and at least two wider than its header; columns
// are two spaces apart and lines carry no trailing blanks.
func renderTable(w *bufio.Writer, doc any, queryActive bool) error {
	items, ok := doc.([]any)
	if !ok {
		items = []any{doc}
	}
	if len(items) == 0 {
		w.WriteByte('\n')
		return nil
	}
	var headers []string
	rows := make([]map[string]string, len(items))
	for i, item := range items {
		row := map[string]string{}
		add := func(header, cell string) {
			if _, seen := row[header]; !seen && !slices.Contains(headers, header) {
				headers = append(headers, header)
			}
			row[header] = cell
		}
		switch t := item.(type) {
		case *object:
			keys := t.keys
			if !queryActive {
				keys = t.sortedKeys()
			}
			for _, k := range keys {
				if slices.Contains(tableSkipKeys, k) {
					continue
				}
				switch v := t.vals[k].(type) {
				case nil, *object, []any:
				default:
					add(capitalizeFirst(k), cellText(v))
				}
			}
		case []any:
			for c, v := range t {
				add("Column"+strconv.Itoa(c+1), cellText(v))
			}
		default:
			add("Result", cellText(t))
		}
		rows[i] = row
	}
	if len(headers) == 0 {
		return errNoTable
	}
	widths := make([]int, len(headers))
	for c, h := range headers {
		widths[c] = utf8.RuneCountInString(h) + 2
		for _, row := range rows {
			widths[c] = max(widths[c], utf8.RuneCountInString(row[h]))
		}
	}
	line := make([]string, len(headers))
	writeLine := func() {
		w.WriteString(strings.TrimRightFunc(strings.Join(line, "  "), unicode.IsSpace))
		w.WriteByte('\n')
	}
	for c, h := range headers {
		line[c] = pad(h, widths[c])
	}
	writeLine()
	for c := range headers {
		line[c] = strings.Repeat("-", widths[c])
	}
	writeLine()
	for _, row := range rows {
		for c, h := range headers {
			line[c] = pad(row[h], widths[c])
		}
		writeLine()
	}
	return nil
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

func capitalizeFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// cellText is Python's str() of a value, trimmed as tabulate trims cells.
// Nested values (possible in ColumnN cells) print as compact JSON.
func cellText(v any) string {
	return strings.TrimSpace(scalarText(v, ""))
}

// scalarText is Python's str() of a scalar, with null printed as none.
func scalarText(v any, none string) string {
	switch t := v.(type) {
	case nil:
		return none
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return string(t)
	}
	return compactJSON(v)
}

func compactJSON(v any) string {
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		switch t := v.(type) {
		case *object:
			b.WriteByte('{')
			for i, k := range t.keys {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quote(k))
				b.WriteString(": ")
				write(t.vals[k])
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, x := range t {
				if i > 0 {
					b.WriteString(", ")
				}
				write(x)
			}
			b.WriteByte(']')
		case string:
			b.WriteString(quote(t))
		case nil:
			b.WriteString("null")
		case bool:
			b.WriteString(strconv.FormatBool(t))
		case json.Number:
			b.WriteString(string(t))
		}
	}
	write(v)
	return b.String()
}
