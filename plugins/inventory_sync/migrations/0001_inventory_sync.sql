-- inventory_sync: the plugin's own tables. The store's `inventory` rows are
-- what a sync changes; these record how far the warehouse was read, what
-- each sync applied or refused, and what the storefront still has to hear.

-- One row per sync (a run of the plugin that committed); history is kept
-- for plugins.inventory_sync.history_days. The history tables below name
-- their sync without a foreign key (a sync writes hundreds of thousands of
-- rows: no per-row check); the plugin deletes them with their sync.
CREATE TABLE inventory_sync_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purser_run_id bigint,
    business_date date NOT NULL,
    source        text,
    pages         integer NOT NULL DEFAULT 0,
    records       integer NOT NULL DEFAULT 0,
    applied       integer NOT NULL DEFAULT 0,
    rejected      integer NOT NULL DEFAULT 0,
    not_modified  boolean NOT NULL DEFAULT false,
    started_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_sync_runs_started ON inventory_sync_runs (started_at);

-- How far each warehouse endpoint has been read: the updated_since
-- high-water mark and the ETag of its last answer. Written in the same
-- transaction as the changes it covers, so it never runs ahead of them.
CREATE TABLE inventory_sync_cursor (
    source        text COLLATE "C" PRIMARY KEY,
    updated_since timestamptz,
    etag          text,
    etag_since    timestamptz, -- the updated_since the ETag was answered for
    sync_id       bigint REFERENCES inventory_sync_runs (id) ON DELETE SET NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- What a sync changed in `inventory` (on hand and safety stock, before/after).
CREATE TABLE inventory_sync_changes (
    sync_id            bigint NOT NULL,
    product_id         bigint NOT NULL,
    warehouse_id       bigint NOT NULL,
    on_hand_before     integer,
    on_hand_after      integer NOT NULL,
    safety_before      integer,
    safety_after       integer NOT NULL,
    source_updated_at  timestamptz,
    PRIMARY KEY (sync_id, product_id, warehouse_id)
);

-- Warehouse records a sync refused, with the reason; never applied.
CREATE TABLE inventory_sync_rejects (
    sync_id   bigint NOT NULL,
    seq       integer NOT NULL, -- 0-based offset of the record in the pull
    page      integer NOT NULL,
    sku       text,
    seller    text,
    warehouse text,
    on_hand   bigint,
    reason    text NOT NULL,
    record    text,
    PRIMARY KEY (sync_id, seq)
);

-- The sellable quantity the storefront was last sent (or will be sent) per
-- product and warehouse; version grows by one at each change.
CREATE TABLE inventory_sync_levels (
    product_id   bigint NOT NULL, -- rows come from `inventory`, whose keys are checked
    warehouse_id bigint NOT NULL,
    available    integer NOT NULL,
    version      bigint NOT NULL,
    PRIMARY KEY (product_id, warehouse_id)
);

-- The outbox: levels the storefront has not acknowledged yet, at most one
-- per product and warehouse (a newer version replaces an unsent one).
-- A row leaves only when the storefront answered 2xx for its version.
CREATE TABLE inventory_sync_outbox (
    product_id   bigint NOT NULL,
    warehouse_id bigint NOT NULL,
    version      bigint NOT NULL,
    available    integer NOT NULL,
    enqueued_at  timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    PRIMARY KEY (product_id, warehouse_id)
);

-- Every push attempt of a level, by sync: the Push results sheet.
CREATE TABLE inventory_sync_pushes (
    sync_id      bigint NOT NULL,
    product_id   bigint NOT NULL,
    warehouse_id bigint NOT NULL,
    version      bigint NOT NULL,
    available    integer NOT NULL,
    ok           boolean NOT NULL,
    http_status  integer,
    error        text,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_sync_pushes_sync ON inventory_sync_pushes (sync_id);
