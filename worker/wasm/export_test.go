package wasm

// IdleInstances reports how many idle instances the version of module that
// new steps get keeps in its pool.
func IdleInstances(x *Executor, module string) int {
	x.mu.Lock()
	m := x.modules[module]
	x.mu.Unlock()
	if m == nil {
		return 0
	}
	m.mu.Lock()
	v := m.cur
	m.mu.Unlock()
	if v == nil {
		return 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.idle)
}
