package output

import (
	"bufio"
	"strconv"
)

// renderTSV prints doc like knack's _TsvOutput: one line per item of a list
// (or the single result).
//
//   - An object prints its values tab-separated. Objects built by a query's
//     multi-select hash keep the order written in the query; all others are
//     in sorted key order, as knack sorts plain dicts.
//   - An array prints its elements tab-separated.
//   - Inside a line a nested array prints its length and a nested object
//     prints nothing, so every line has the same number of fields;
//     booleans print True/False and null prints None, as Python's str() does.
//   - A scalar line prints the value; a boolean line prints true/false.
func renderTSV(w *bufio.Writer, doc any) {
	items, ok := doc.([]any)
	if !ok {
		items = []any{doc}
	}
	for _, item := range items {
		switch t := item.(type) {
		case *object:
			keys := t.keys
			if !t.ordered {
				keys = t.sortedKeys()
			}
			for i, k := range keys {
				if i > 0 {
					w.WriteByte('\t')
				}
				w.WriteString(tsvField(t.vals[k]))
			}
		case []any:
			for i, v := range t {
				if i > 0 {
					w.WriteByte('\t')
				}
				w.WriteString(tsvField(v))
			}
		case bool:
			w.WriteString(strconv.FormatBool(t))
		default:
			w.WriteString(tsvField(t))
		}
		w.WriteByte('\n')
	}
}

func tsvField(v any) string {
	switch t := v.(type) {
	case []any:
		return strconv.Itoa(len(t))
	case *object:
		return ""
	}
	return scalarText(v, "None")
}
