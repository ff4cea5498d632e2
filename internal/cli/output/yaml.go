package output

import (
	"bufio"
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

// writeYAML prints doc as YAML with sorted keys, as PyYAML's safe_dump does
// for az.
func writeYAML(w *bufio.Writer, doc any) error {
	var js bytes.Buffer
	jw := bufio.NewWriter(&js)
	writeJSON(jw, doc, false)
	if err := jw.Flush(); err != nil {
		return err
	}
	out, err := yaml.JSONToYAML(js.Bytes())
	if err != nil {
		return fmt.Errorf("output: converting to YAML: %w", err)
	}
	_, err = w.Write(out)
	return err
}
