# Daemon sources that the daemon unit suites (test_daemon_*.c) compile in directly:
# lotad's modules are not part of liblota, so these suites link them on top of lota_unit.
set(LOTAD_UNIT_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/../../daemon/auth.c
    ${CMAKE_CURRENT_LIST_DIR}/../../daemon/metrics.c
    ${CMAKE_CURRENT_LIST_DIR}/../../daemon/s3err.c
    ${CMAKE_CURRENT_LIST_DIR}/../../daemon/store.c
    ${CMAKE_CURRENT_LIST_DIR}/../../daemon/nodesecret.c)
