package store

import "context"

// identity is migration 6: the database's own UUID (version 4), made from
// SQLite's randomblob when the database is created or first migrated to
// this version, and never changed. Two databases (two servers) have
// different ones; a copy of the file is the same database.
const identity = `
CREATE TABLE identity (uuid TEXT NOT NULL);
INSERT INTO identity (uuid)
	SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' ||
		substr('89ab', 1 + (abs(random()) % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12))
	FROM (SELECT hex(randomblob(16)) AS h);
`

// readUUID reads the database's UUID (identity).
func (s *Store) readUUID(ctx context.Context) error {
	return s.r.QueryRowContext(ctx, `SELECT uuid FROM identity`).Scan(&s.uuid)
}

// UUID is the database's own identity, a random UUID stored in it: the
// same after every restart, different for every database. Notification
// keys are made of it (notify.OutboxItemsIn), so two servers never send
// the same key.
func (s *Store) UUID() string { return s.uuid }
