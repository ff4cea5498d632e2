package authz

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchWorld is a synthetic tenant: 100k assignments over ~20k principals
// (of which 1k are groups), at subscription, resource group and registry
// level, and a set of requests against registries.
type benchWorld struct {
	engine   *Engine
	requests []Request
}

var (
	benchOnce sync.Once
	benchData benchWorld
)

func buildBenchWorld() benchWorld {
	const (
		nAssignments = 100_000
		nPrincipals  = 19_000
		nGroups      = 1_000
		nSubs        = 50
		rgsPerSub    = 20
		regsPerRG    = 10
		nRequests    = 8192
	)
	rng := rand.New(rand.NewPCG(1, 2))
	principal := func(i int) string { return fmt.Sprintf("%08x-1111-4111-8111-%012x", i, i) }
	group := func(i int) string { return fmt.Sprintf("%08x-2222-4222-8222-%012x", i, i) }
	subID := func(s int) string { return fmt.Sprintf("/subscriptions/%08x-0000-4000-8000-%012x", s, s) }
	rgID := func(s, g int) string { return fmt.Sprintf("%s/resourceGroups/rg-%d", subID(s), g) }
	regID := func(s, g, r int) string {
		return fmt.Sprintf("%s/providers/Microsoft.ContainerRegistry/registries/acr%d", rgID(s, g), r)
	}
	roles := []string{AcrPullGUID, AcrPullGUID, AcrPushGUID, ReaderGUID, ContributorGUID, OwnerGUID,
		ContainerRegistryRepositoryReaderGUID, UserAccessAdministratorGUID}

	as := make([]Assignment, 0, nAssignments)
	type place struct{ s, g, level int }
	places := make([]place, 0, nAssignments)
	for i := range nAssignments {
		var p, ptype string
		if i%10 == 0 {
			p, ptype = group(rng.IntN(nGroups)), "Group"
		} else {
			p, ptype = principal(rng.IntN(nPrincipals)), "ServicePrincipal"
		}
		s, g, r := rng.IntN(nSubs), rng.IntN(rgsPerSub), rng.IntN(regsPerRG)
		var scope string
		level := 2
		switch x := rng.IntN(10); {
		case x < 2:
			scope, level = subID(s), 0
		case x < 5:
			scope, level = rgID(s, g), 1
		default:
			scope = regID(s, g, r)
		}
		places = append(places, place{s, g, level})
		as = append(as, Assignment{
			Name:             fmt.Sprintf("%08x-3333-4333-8333-%012x", i, i),
			Scope:            scope,
			RoleDefinitionID: roles[rng.IntN(len(roles))],
			PrincipalID:      p,
			PrincipalType:    ptype,
			CreatedOn:        time.Unix(0, 0),
		})
	}
	e := NewEngine(BuiltInRoles())
	e.Load(as)

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	actions := []struct {
		action string
		data   bool
	}{
		{ActionRegistryPull, false},
		{ActionRegistryPush, false},
		{ActionRegistryWrite, false},
		{ActionRoleAssignmentsWrite, false},
		{DataActionRepositoryContentRead, true},
	}
	reqs := make([]Request, nRequests)
	for i := range reqs {
		p := principal(rng.IntN(nPrincipals))
		scope := regID(rng.IntN(nSubs), rng.IntN(rgsPerSub), rng.IntN(regsPerRG))
		if i%2 == 0 {
			// Aim at a registry below an existing direct assignment so
			// that many requests find applicable grants.
			k := rng.IntN(len(as))
			for as[k].PrincipalType == "Group" {
				k = rng.IntN(len(as))
			}
			p = as[k].PrincipalID
			switch pl := places[k]; pl.level {
			case 0:
				scope = regID(pl.s, rng.IntN(rgsPerSub), rng.IntN(regsPerRG))
			case 1:
				scope = regID(pl.s, pl.g, rng.IntN(regsPerRG))
			default:
				scope = as[k].Scope
			}
		}
		groups := make([]Membership, rng.IntN(4))
		for j := range groups {
			eff := now.Add(-time.Hour)
			if rng.IntN(4) == 0 {
				eff = now.Add(10 * time.Minute)
			}
			groups[j] = Membership{GroupID: group(rng.IntN(nGroups)), EffectiveAt: eff}
		}
		act := actions[rng.IntN(len(actions))]
		reqs[i] = Request{
			PrincipalID: p,
			Groups:      groups,
			Action:      act.action,
			DataAction:  act.data,
			Scope:       scope,
			Now:         now,
		}
	}
	return benchWorld{engine: e, requests: reqs}
}

// BenchmarkDecide measures Engine.Decide with 100k assignments and reports
// latency percentiles measured per call.
func BenchmarkDecide(b *testing.B) {
	benchOnce.Do(func() { benchData = buildBenchWorld() })
	e, reqs := benchData.engine, benchData.requests
	if e.Len() != 100_000 {
		b.Fatalf("engine has %d assignments", e.Len())
	}

	const maxSamples = 1 << 20
	samples := make([]time.Duration, 0, min(b.N, maxSamples))
	stride := max(1, b.N/maxSamples)
	allowed := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := reqs[i%len(reqs)]
		if i%stride == 0 && len(samples) < maxSamples {
			start := time.Now()
			d := e.Decide(req)
			samples = append(samples, time.Since(start))
			if d.Allowed {
				allowed++
			}
			continue
		}
		if e.Decide(req).Allowed {
			allowed++
		}
	}
	b.StopTimer()

	slices.Sort(samples)
	pct := func(p float64) float64 {
		if len(samples) == 0 {
			return 0
		}
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Nanoseconds())
	}
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(pct(0.999), "p99.9-ns")
	b.ReportMetric(float64(allowed)/float64(b.N), "allowed-ratio")
}
