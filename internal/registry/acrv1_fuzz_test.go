package registry

import (
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// FuzzACRv1Listing feeds the /acr/v1 listings' query parameters (n, last,
// orderby) from arbitrary query strings: a page is a run of the list, no
// longer than n, after last; its next link continues where it stopped;
// ordering by time is a permutation in time order. Never a panic.
func FuzzACRv1Listing(f *testing.F) {
	for _, q := range []string{"n=2", "n=2&last=b", "last=zzz", "n=-1", "n=99999999999999999999", "orderby=time_desc&n=1", "orderby=timeasc", "n=%zz&last=%00"} {
		f.Add(q)
	}
	names := []string{"a", "b", "c", "d/e", "f"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, query string) {
		q, _ := url.ParseQuery(query)
		n, nerr := strconv.Atoi(q.Get("n"))
		page, next := paginate(slices.Clone(names), q)
		if len(page) > 0 && !slices.Contains(names, page[0]) || !slices.IsSorted(page) {
			t.Fatalf("page %q of %q", page, names)
		}
		if last := q.Get("last"); last != "" && len(page) > 0 && page[0] <= last {
			t.Fatalf("page %q starts at or before last=%q", page, last)
		}
		if nerr == nil && n > 0 && len(page) > n {
			t.Fatalf("%d names for n=%d", len(page), n)
		}
		if next != "" {
			nq, err := url.ParseQuery(next)
			if err != nil || nq.Get("last") != page[len(page)-1] || nq.Get("n") != strconv.Itoa(n) {
				t.Fatalf("next %q after page %q", next, page)
			}
		}

		items := make([]map[string]any, len(names))
		times := make([]time.Time, len(names))
		for i, name := range names {
			items[i] = map[string]any{"name": name}
			times[i] = base.Add(time.Duration((i*7)%len(names)) * time.Hour)
		}
		sortByTime(q.Get("orderby"), len(items), func(i int) time.Time { return times[i] }, func(i, j int) {
			items[i], items[j] = items[j], items[i]
			times[i], times[j] = times[j], times[i]
		})
		if o := q.Get("orderby"); o == "time_asc" || o == "timeasc" {
			if !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Fatalf("not in time order: %v", times)
			}
		}
		mpage, mnext := paginateMaps(items, "name", q)
		if nerr == nil && n > 0 && len(mpage) > n {
			t.Fatalf("%d items for n=%d", len(mpage), n)
		}
		if mnext != "" {
			if nq, err := url.ParseQuery(mnext); err != nil || nq.Get("last") != mpage[len(mpage)-1]["name"] {
				t.Fatalf("next %q after page %v", mnext, mpage)
			}
		}
	})
}
