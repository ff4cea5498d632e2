package cli

import "testing"

func TestACRShowUsage(t *testing.T) {
	h := newRegistryHarness(t)
	res := obj(h.ok("acr", "show-usage", "-n", "myacr"))
	v := list(res["value"])
	if len(v) != 5 || obj(v[0])["name"] != "Size" || obj(v[0])["currentValue"] != float64(0) || obj(v[0])["unit"] != "Bytes" || obj(v[2])["name"] != "Webhooks" || obj(v[2])["unit"] != "Count" {
		t.Errorf("show-usage = %v", res)
	}
	// Integers print whole, however large (a Basic registry's 10 TiB).
	out, _, code := h.run("acr", "show-usage", "-n", "myacr", "-o", "table")
	want := "NAME          LIMIT           CURRENT VALUE    UNIT\n" +
		"------------  --------------  ---------------  ------\n" +
		"Size          10995116277760  0                Bytes\n" +
		"Repositories  2147483647      0                Count\n" +
		"Webhooks      2               0                Count\n" +
		"ScopeMaps     100             0                Count\n" +
		"Tokens        100             0                Count\n"
	if code != 0 || out != want {
		t.Errorf("table:\n%s\nwant\n%s", out, want)
	}
	h.fails(2, "ERROR: the following arguments are required: --name/-n", "acr", "show-usage")
}
