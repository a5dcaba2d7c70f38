CREATE TABLE revisions (
    number     INTEGER PRIMARY KEY,
    author     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    checksum   TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    content    TEXT    NOT NULL
);
