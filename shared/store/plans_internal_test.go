package store

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The engine's transactions plan their statements without sequential
// scans. On a young schema (tables of a few pages, never analysed) the
// generic plan of a statement that finds steps by id scanned
// workflow_steps, and the store's connections keep the first generic plan
// of a statement until the next ANALYZE (see noSeqScans).
func TestEngineTransactionsPlanNoSequentialScans(t *testing.T) {
	e := newInternalEnv(t)
	for name, tc := range map[string]struct{ sql, args string }{
		"record and complete": {recordProcessSQL, `('[]', '{}', '{}', '{}')`},
		"prediction guard":    {guardSQL, `('{}', '{}', '{}', '{}', '{}')`},
		"claim hydration":     {hydrateSQL, `('w', '')`},
	} {
		p := e.store.pipe(e.ctx)
		b := &pgx.Batch{}
		b.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
		b.Queue(`PREPARE plan_probe AS ` + tc.sql)
		var plan string
		b.Queue(`EXPLAIN (FORMAT JSON) EXECUTE plan_probe` + tc.args).QueryRow(func(r pgx.Row) error { return r.Scan(&plan) })
		b.Queue(`DEALLOCATE plan_probe`)
		err := p.run(b, false, nil)
		p.close()
		require.NoError(t, err, name)
		require.Contains(t, plan, `"Index`, name)
		require.NotContains(t, plan, `"Seq Scan"`, name)
	}
}
