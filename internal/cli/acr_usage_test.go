package cli

import "testing"

func TestACRShowUsage(t *testing.T) {
	h, _ := newACRHarness(t)
	res := obj(h.ok("acr", "show-usage", "-n", "myacr"))
	v := list(res["value"])
	if len(v) != 2 || obj(v[0])["name"] != "Size" || obj(v[0])["currentValue"] != float64(5767168) || obj(v[1])["unit"] != "Count" {
		t.Errorf("show-usage = %v", res)
	}
	out, _, code := h.run("acr", "show-usage", "-n", "myacr", "-o", "table")
	want := "NAME      LIMIT        CURRENT VALUE    UNIT\n" +
		"--------  -----------  ---------------  ------\n" +
		"Size      10737418240  5767168          Bytes\n" +
		"Webhooks  2            0                Count\n"
	if code != 0 || out != want {
		t.Errorf("table:\n%s\nwant\n%s", out, want)
	}
	h.fails(2, "ERROR: the following arguments are required: --name/-n", "acr", "show-usage")
}
