package pgstore_test

// Benchmarks of pgstore's writes and Find, each beside raw pgx on the same
// server in the same run, and of the two designs for indexes the issue
// names: an entries table kept by the writer (what pgstore does) and
// expression indexes on the values (jsonb btree and GIN), measured with raw
// SQL on a table of the same shape.
//
//	eval "$(scripts/postgres start)"
//	go test -run '^$' -bench . -benchtime 2s ./pgstore [-pg.accounts 200000]

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/pgtest"
	"github.com/userprops/userprops/pgstore"
)

var benchAccounts = flag.Int("pg.accounts", 200_000, "accounts in the Find benchmarks' data")

var countryIndex = userprops.Index{Key: "location", Path: "office.country"}

// benchCity is the city of account i in the Find data: "one" for one
// account, c1k, c10k and c100k for about that many of 200k, the rest
// unique.
func benchCity(i int) string {
	switch {
	case i == 7:
		return "one"
	case i%200 == 1:
		return "c1k"
	case i%20 == 2:
		return "c10k"
	case i%2 == 0:
		return "c100k"
	}
	return fmt.Sprintf("u%d", i)
}

func benchID(i int) []byte { return fmt.Appendf(nil, "user-%07d", i) }

func benchLocation(i int, city string) []byte {
	return fmt.Appendf(nil, `{"office":{"city":%q,"country":"c%d"},"desk":"%d-%d","since":1732406400}`,
		city, i%50, i%9, i)
}

// load writes n accounts, each with a location and a settings property, in
// the schema of dsn, straight into pgstore's tables.
func load(b *testing.B, dsn string, n int) {
	b.Helper()
	ctx := context.Background()
	s, err := pgstore.Open(ctx, dsn, quiet)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	settings := []byte(`{"theme":"dark","language":"en-GB","notifications":{"email":false,"mobile":true}}`)
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"userprops_properties"},
		[]string{"account_id", "key", "value", "version", "updated_at_ns", "revision"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == 2*n {
				return nil, nil
			}
			u, row := i/2, i%2
			i++
			if row == 0 {
				return []any{benchID(u), []byte("location"), benchLocation(u, benchCity(u)), int64(1), int64(0), int64(i)}, nil
			}
			return []any{benchID(u), []byte("settings"), settings, int64(1), int64(0), int64(i)}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO userprops_accounts SELECT account_id, count(*), sum(length(key) + length(value))
FROM userprops_properties GROUP BY account_id;
SELECT setval('userprops_revisions', max(revision)) FROM userprops_properties;
UPDATE userprops_trimmed SET trimmed = m.r FROM (SELECT max(revision) AS r FROM userprops_properties) m`)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

func openBench(b *testing.B, dsn string, opts ...userprops.Option) *pgstore.Store {
	b.Helper()
	s, err := pgstore.Open(context.Background(), dsn, append(opts, quiet)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func pool(b *testing.B, dsn string) *pgxpool.Pool {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 40
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

func vacuum(b *testing.B, p *pgxpool.Pool) {
	b.Helper()
	if _, err := p.Exec(context.Background(), `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFind answers one clause on the location of -pg.accounts accounts
// with 1 to 100k matches, first page of 50 and Total: from the index, and by
// scanning every location (a schema without the index); beside a raw point
// read of one property, a raw read of the matching IDs from the entries, and
// one from a jsonb expression index (the design not chosen).
func BenchmarkFind(b *testing.B) {
	n := *benchAccounts
	indexedDSN, plainDSN := pgtest.Schema(b), pgtest.Schema(b)
	load(b, indexedDSN, n)
	load(b, plainDSN, n)
	start := time.Now()
	indexed := openBench(b, indexedDSN, userprops.WithIndex(cityIndex.Key, cityIndex.Path))
	b.Logf("built %s over %d properties in %v (%.0f/s)", cityIndex, n, time.Since(start), float64(n)/time.Since(start).Seconds())
	plain := openBench(b, plainDSN)
	raw := pool(b, indexedDSN)
	vacuum(b, raw)
	// The design not chosen, for its reads: a jsonb expression index on
	// the schema without an index of Find.
	rawPlain := pool(b, plainDSN)
	_, err := rawPlain.Exec(context.Background(), `
CREATE FUNCTION up_json(v bytea) RETURNS jsonb IMMUTABLE STRICT LANGUAGE sql AS $$ SELECT convert_from(v, 'UTF8')::jsonb $$;
CREATE INDEX ON userprops_properties ((up_json(value) #>> '{office,city}')) WHERE key = 'location';
ANALYZE`)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	b.Run("raw-point-get", func(b *testing.B) {
		var v []byte
		for i := 0; b.Loop(); i++ {
			err := raw.QueryRow(ctx, `SELECT value FROM userprops_properties WHERE account_id = $1 AND key = $2`,
				benchID(i%n), []byte("location")).Scan(&v)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	matches := map[string]int{}
	for i := range n {
		matches[benchCity(i)]++
	}
	for _, city := range []string{"one", "c1k", "c10k", "c100k"} {
		q := userprops.Where(cityIndex.Key, cityIndex.Path, city)
		name := fmt.Sprintf("matches=%d", matches[city])
		b.Run(name+"/raw-entries", func(b *testing.B) {
			for b.Loop() {
				rows, err := raw.Query(ctx, `SELECT account_id FROM userprops_index_entries
WHERE index_id = (SELECT id FROM userprops_indexes) AND term = $1`, pgstore.EntryTerm("s"+city))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pgx.CollectRows(rows, pgx.RowTo[[]byte]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/raw-expr-btree", func(b *testing.B) {
			for b.Loop() {
				rows, err := rawPlain.Query(ctx, `SELECT account_id FROM userprops_properties
WHERE key = 'location' AND up_json(value) #>> '{office,city}' = $1`, city)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pgx.CollectRows(rows, pgx.RowTo[[]byte]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/indexed", func(b *testing.B) { benchFind(b, indexed, q, matches[city]) })
		b.Run(name+"/scan", func(b *testing.B) { benchFind(b, plain, q, matches[city]) })
	}
	// A clause without an index, narrowed by one with: Evaluate checks
	// the candidates one by one through FindView.Value.
	b.Run(fmt.Sprintf("and-unindexed/matches=%d", matches["c1k"]), func(b *testing.B) {
		q := userprops.And(userprops.Where(cityIndex.Key, cityIndex.Path, "c1k"), userprops.Where("settings", "theme", "dark"))
		benchFind(b, indexed, q, matches["c1k"])
	})
}

func benchFind(b *testing.B, s userprops.Store, q userprops.Query, want int) {
	for b.Loop() {
		found, err := s.Find(context.Background(), q, userprops.Page{})
		if err != nil {
			b.Fatal(err)
		}
		if found.Total != want {
			b.Fatalf("Find(%s).Total = %d, want %d", q, found.Total, want)
		}
	}
}

// BenchmarkBuild measures building an index over -pg.accounts properties of
// its key (as many others beside them), as Open does.
func BenchmarkBuild(b *testing.B) {
	n := *benchAccounts
	dsn := pgtest.Schema(b)
	load(b, dsn, n)
	s := openBench(b, dsn)
	ctx := context.Background()
	for b.Loop() {
		if err := s.AddIndex(ctx, cityIndex); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.DropIndex(ctx, cityIndex); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "props/s")
}

// setAccounts is how many accounts the Set benchmarks update at random.
const setAccounts = 10_000

// BenchmarkSet updates the location of random accounts among setAccounts,
// from 1, 4 and 32 writers, each change moving the account to another
// city (and so changing its index entries):
//
//   - raw: one autocommit upsert in raw pgx, on a table with the primary
//     key alone, the least a durable write costs;
//   - raw+expr-btree, raw+expr-gin: the same upsert with two expression
//     indexes on the values (jsonb, btree on the text at each path, or GIN
//     jsonb_path_ops for arrays), the design that was not chosen;
//   - store: pgstore Set, no index of Find;
//   - store-nokeyindex: the same without the index on (key, account_id);
//   - store+2indexes: pgstore Set with two indexes on the key (city and
//     country), kept in the entries table.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	type variant struct {
		name string
		set  func(i int, value []byte) error
	}
	var variants []variant
	for _, v := range []struct{ name, ddl string }{
		{"raw", ``},
		{"raw+expr-btree", `
CREATE INDEX ON bench_props ((up_json(value) #>> '{office,city}')) WHERE key = 'location';
CREATE INDEX ON bench_props ((up_json(value) #>> '{office,country}')) WHERE key = 'location'`},
		{"raw+expr-gin", `
CREATE INDEX ON bench_props USING gin ((up_json(value) #> '{office,city}') jsonb_path_ops) WHERE key = 'location';
CREATE INDEX ON bench_props USING gin ((up_json(value) #> '{office,country}') jsonb_path_ops) WHERE key = 'location'`},
	} {
		p := pool(b, pgtest.Schema(b))
		_, err := p.Exec(ctx, `
CREATE TABLE bench_props (account_id bytea, key bytea, value bytea NOT NULL, version bigint NOT NULL,
	updated_at_ns bigint NOT NULL, PRIMARY KEY (account_id, key));
CREATE FUNCTION up_json(v bytea) RETURNS jsonb IMMUTABLE STRICT LANGUAGE sql AS $$ SELECT convert_from(v, 'UTF8')::jsonb $$;
INSERT INTO bench_props SELECT convert_to('user-' || lpad(i::text, 7, '0'), 'UTF8'), 'location',
	convert_to('{"office":{"city":"c' || i % 7 || '","country":"c' || i % 50 || '"}}', 'UTF8'), 1, 0
FROM generate_series(0, `+fmt.Sprint(setAccounts-1)+`) i;
`+v.ddl)
		if err != nil {
			b.Fatal(err)
		}
		vacuum(b, p)
		variants = append(variants, variant{v.name, func(i int, value []byte) error {
			_, err := p.Exec(ctx, `INSERT INTO bench_props AS p VALUES ($1, 'location', $2, 1, $3)
ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value, version = p.version + 1,
	updated_at_ns = excluded.updated_at_ns`, benchID(i), value, time.Now().UnixNano())
			return err
		}})
	}
	for _, v := range []struct {
		name string
		ddl  string
		opts []userprops.Option
	}{
		{"store", ``, nil},
		{"store-nokeyindex", `DROP INDEX userprops_properties_by_key`, nil},
		{"store+2indexes", ``, []userprops.Option{
			userprops.WithIndex(cityIndex.Key, cityIndex.Path), userprops.WithIndex(countryIndex.Key, countryIndex.Path)}},
	} {
		dsn := pgtest.Schema(b) + "&pool_max_conns=40" // as many connections as raw's pool
		s := openBench(b, dsn, v.opts...)
		p := pool(b, dsn)
		if v.ddl != "" {
			if _, err := p.Exec(ctx, v.ddl); err != nil {
				b.Fatal(err)
			}
		}
		for i := range setAccounts {
			if _, err := s.Set(ctx, string(benchID(i)), "location", benchLocation(i, fmt.Sprintf("c%d", i%7))); err != nil {
				b.Fatal(err)
			}
		}
		vacuum(b, p)
		variants = append(variants, variant{v.name, func(i int, value []byte) error {
			_, err := s.Set(ctx, string(benchID(i)), "location", value)
			return err
		}})
	}
	for _, writers := range []int{1, 4, 32} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, v.name), func(b *testing.B) {
				if writers == 1 {
					r := rand.New(rand.NewPCG(0, 7))
					for b.Loop() {
						i := r.IntN(setAccounts)
						if err := v.set(i, benchLocation(i, fmt.Sprintf("c%d", r.IntN(7)))); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				// RunParallel starts GOMAXPROCS goroutines per unit.
				var seed atomic.Uint64
				b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					r := rand.New(rand.NewPCG(seed.Add(1), 7))
					for pb.Next() {
						i := r.IntN(setAccounts)
						if err := v.set(i, benchLocation(i, fmt.Sprintf("c%d", r.IntN(7)))); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
