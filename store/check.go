package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/canary-dev/canary"
)

// Check is how much of the database OpenConfig checks for corruption
// before using it.
type Check string

// The checks.
const (
	// CheckQuick (the default) runs SQLite's quick_check on every table
	// but the event log, and so on the pages a restart reads: the
	// rollouts' snapshots and plans, the outbox, the flags, the schema.
	// Its cost follows the number of rollouts and pending
	// notifications, not the history: a few milliseconds for 1,000
	// rollouts (BENCHMARKS.md). A damaged event page is found when it is
	// read (an error with code unavailable saying "corrupt").
	CheckQuick Check = "quick"
	// CheckFull runs SQLite's integrity_check on the whole file, the
	// event log included: seconds per GiB.
	CheckFull Check = "full"
	// CheckNone checks nothing beyond what SQLite does on open.
	CheckNone Check = "none"
)

// ErrCorrupt is matched (errors.Is) by OpenConfig's error, code
// unavailable, when the database failed its
// check (or SQLite found it damaged while opening it).
var ErrCorrupt = errors.New("state database is corrupt")

// ParseCheck parses a --check-db value: quick, full or none ("" is quick).
func ParseCheck(s string) (Check, error) {
	switch c := Check(s); c {
	case "":
		return CheckQuick, nil
	case CheckQuick, CheckFull, CheckNone:
		return c, nil
	}
	return "", canary.Errorf(canary.EINVALID, "--check-db %q: want quick, full or none", s)
}

// bigTables are left to CheckFull: they grow with history.
var bigTables = map[string]bool{"events": true}

// check runs level's integrity check on db and returns an error wrapping
// ErrCorrupt that names the file, what is wrong and how to recover.
func check(ctx context.Context, db *sql.DB, path string, level Check) error {
	var problems []string
	var err error
	switch level {
	case CheckNone:
		return nil
	case CheckFull:
		problems, err = pragmaCheck(ctx, db, "PRAGMA integrity_check(20)")
	default:
		problems, err = quickCheck(ctx, db)
	}
	if err != nil {
		if why, ok := diskFault(err); ok && (why == "corrupt" || why == "not a database") {
			problems = append(problems, err.Error())
		} else {
			return classify("check "+path, err)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return corrupt(path, level, strings.Join(problems, "; "))
}

// corruptError is a *canary.Error with code unavailable that is also
// ErrCorrupt (errors.Is).
type corruptError struct{ err *canary.Error }

func (e corruptError) Error() string        { return e.err.Message }
func (e corruptError) Is(target error) bool { return target == ErrCorrupt }
func (e corruptError) Unwrap() error        { return e.err }

// corrupt is ErrCorrupt for path, with what was found and how to recover.
func corrupt(path string, level Check, found string) error {
	if len(found) > 400 {
		found = found[:400] + "…"
	}
	return corruptError{canary.Errorf(canary.EUNAVAILABLE,
		"%v: %s failed the %s check (%s); stop every canary on it, keep a copy, "+
			"then restore it from a backup, or salvage what is readable with "+
			"`sqlite3 %s .recover | sqlite3 recovered.db` and start with --state recovered.db "+
			"(--check-db=full checks every page, --check-db=none skips the check)",
		ErrCorrupt, path, level, found, path)}
}

// quickCheck runs quick_check on every table except bigTables.
func quickCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		if !bigTables[name] {
			tables = append(tables, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var problems []string
	for _, name := range tables {
		p, err := pragmaCheck(ctx, db, `PRAGMA quick_check("`+strings.ReplaceAll(name, `"`, `""`)+`")`)
		if err != nil {
			return problems, err
		}
		problems = append(problems, p...)
	}
	return problems, nil
}

// pragmaCheck runs a quick_check or integrity_check pragma and returns its
// rows unless it says "ok".
func pragmaCheck(ctx context.Context, db *sql.DB, pragma string) ([]string, error) {
	rows, err := db.QueryContext(ctx, pragma)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			out = append(out, line)
		}
	}
	return out, rows.Err()
}
