CREATE TABLE revisions (
    number     BIGINT       NOT NULL PRIMARY KEY,
    author     VARCHAR(255) NOT NULL,
    created_at BIGINT       NOT NULL,
    checksum   CHAR(64)     NOT NULL,
    comment    TEXT         NOT NULL,
    content    LONGTEXT     NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
