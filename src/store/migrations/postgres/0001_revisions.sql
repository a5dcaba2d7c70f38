CREATE TABLE revisions (
    number     BIGINT  NOT NULL PRIMARY KEY,
    author     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    checksum   TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    content    TEXT    NOT NULL
);
