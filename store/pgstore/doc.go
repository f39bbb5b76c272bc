// Package pgstore is a store.Store on PostgreSQL, through github.com/jackc/pgx/v5 and a pool
// the caller owns (pgxpool): the system of record of a platform team that keeps everything
// in PostgreSQL, shared by any number of processes.
package pgstore
