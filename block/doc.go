// Package block is pace's immutable block format on the object store.
//
// A block holds the traces of one tenant under <tenant>/<blockID>/:
//
//	data.parquet  one row per trace, sorted by trace ID, nested columns
//	              (resource spans → scope spans → spans → events/links) with
//	              typed attribute columns; zstd, dictionary strings, delta
//	              timestamps, page indexes on every column
//	bloom         bloom filter over the trace IDs (bits-and-blooms/bloom/v3)
//	meta.json     Meta, written last: a block without it does not exist
//
// WriteBlock streams traces into a new block, ListTenants/ListBlocks/ReadMeta
// see complete blocks only, Reader finds a trace by ID reading only the pages
// that hold it, Iterate walks all traces in ID order (compaction), and
// DeleteBlock removes meta.json first, then the rest.
package block
