package manager

import (
	"context"
	"fmt"
	"slices"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/store"
)

// lookup returns the stored rollout "ns/name" stands for (its latest
// generation) or the generation "ns/name@GEN" names.
func (m *Manager) lookup(ctx context.Context, name string) (store.Rollout, error) {
	base, gen, err := api.SplitGeneration(name)
	if err != nil {
		return store.Rollout{}, err
	}
	if gen == 0 {
		return m.cfg.Store.Latest(ctx, base)
	}
	all, err := m.cfg.Store.List(ctx, store.ListOptions{Name: base})
	if err != nil {
		return store.Rollout{}, err
	}
	for _, sr := range all {
		if int(sr.Generation) == gen {
			return sr, nil
		}
	}
	return store.Rollout{}, noGeneration(base, gen, all)
}

// noGeneration is the not-found error of base@gen, listing the
// generations there are.
func noGeneration(base string, gen int, all []store.Rollout) error {
	if len(all) == 0 {
		return canary.Errorf(canary.ENOTFOUND, "rollout %s not found", base)
	}
	return canary.Errorf(canary.ENOTFOUND, "rollout %s has no generation %d (it has %s)", base, gen, genList(all))
}

// genList is "generations 1, 2 and 3" (or "generation 2") of rs.
func genList(rs []store.Rollout) string {
	gens := make([]int, 0, len(rs))
	for _, r := range rs {
		gens = append(gens, int(r.Generation))
	}
	slices.Sort(gens)
	if len(gens) == 1 {
		return fmt.Sprintf("generation %d", gens[0])
	}
	s := "generations "
	for i, g := range gens {
		switch {
		case i == len(gens)-1:
			s += fmt.Sprintf(" and %d", g)
		case i > 0:
			s += fmt.Sprintf(", %d", g)
		default:
			s += fmt.Sprint(g)
		}
	}
	return s
}

// latestName is name without "@GEN" when it names the latest generation;
// commands act on the latest only, so an older one is a conflict.
func (m *Manager) latestName(ctx context.Context, name string) (string, error) {
	base, gen, err := api.SplitGeneration(name)
	if err != nil || gen == 0 {
		return base, err
	}
	sr, err := m.cfg.Store.Latest(ctx, base)
	if err != nil {
		return "", err
	}
	if int(sr.Generation) != gen {
		return "", canary.Errorf(canary.ECONFLICT,
			"%s is generation %d of %d: commands act on the latest generation only (use %s)", name, gen, sr.Generation, base)
	}
	return base, nil
}

// Delete removes every generation of name, or the one name@GEN names,
// with their events. All of them must be finished: while one is active
// nothing is removed. Services held by the name go with its last
// generation.
func (m *Manager) Delete(ctx context.Context, name string) (api.DeleteResult, error) {
	base, gen, err := api.SplitGeneration(name)
	if err != nil {
		return api.DeleteResult{}, err
	}
	all, err := m.cfg.Store.List(ctx, store.ListOptions{Name: base})
	if err != nil {
		return api.DeleteResult{}, err
	}
	doomed := all
	if gen > 0 {
		i := slices.IndexFunc(all, func(r store.Rollout) bool { return int(r.Generation) == gen })
		if i < 0 {
			return api.DeleteResult{}, noGeneration(base, gen, all)
		}
		doomed = all[i : i+1]
	} else if len(all) == 0 {
		return api.DeleteResult{}, canary.Errorf(canary.ENOTFOUND, "rollout %s not found", base)
	}
	for _, sr := range doomed {
		if !sr.State.Phase.Terminal() {
			return api.DeleteResult{}, canary.Errorf(canary.ECONFLICT,
				"generation %d of %s is %s: abort it or wait for it to finish, then delete (nothing was deleted)",
				sr.Generation, base, sr.State.Phase)
		}
	}
	res := api.DeleteResult{Name: base, Generations: []int{}}
	for _, sr := range doomed {
		if err := m.cfg.Store.Delete(ctx, sr.ID); err != nil {
			return res, err
		}
		res.Generations = append(res.Generations, int(sr.Generation))
	}
	slices.Sort(res.Generations)
	m.forgetServices(ctx, base)
	return res, nil
}
