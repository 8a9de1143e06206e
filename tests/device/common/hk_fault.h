/*
 * A fault-injecting platform for tests: wraps another hk_platform (normally
 * the POSIX one) and lets a test break the connections the device stack
 * opens, underneath TLS, the way a real network breaks:
 *
 *   - refuse the next N tcp_connect calls (HK_ERR_CONNECT);
 *   - cut connection number K (0 = the first opened through the wrapper, or
 *     any with HK_FAULT_ANY) once it has sent or received N bytes: from then
 *     on its send/recv give HK_ERR_CLOSED, exactly what a peer reset looks
 *     like to the layers above;
 *   - cut every open connection now (hk_fault_cut_all): call it from the
 *     device's event callback to cut "at a named step" (e.g. on entering
 *     HK_DEVICE_STATE_DPS_REGISTER or READY);
 *   - hand out bytes in small pieces (max_chunk) to exercise partial
 *     sends and reads.
 *
 *     hk_fault f; hk_platform wrapped;
 *     hk_fault_init(&f, &posix_platform, &wrapped);
 *     f.cut_conn = 1; f.cut_after_rx = 300;    // second connection, 300 B in
 *     ... give &wrapped to hk_device_tls_link ...
 *
 * Test code (tests/device/common, library hk_device_fault); no heap.
 */
#ifndef HK_FAULT_H
#define HK_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/platform.h"
#include "hubkey/transport.h"

#define HK_FAULT_SLOTS 4
#define HK_FAULT_ANY (-1)

struct hk_fault;

typedef struct hk_fault_conn {
    struct hk_fault *owner;
    hk_transport lower;
    bool used;
    bool cut;
    int index;        /* order of opening through the wrapper, from 0 */
    uint64_t tx, rx;  /* bytes moved */
} hk_fault_conn;

typedef struct hk_fault {
    /* knobs: set them any time */
    int fail_connects;     /* refuse this many more tcp_connect calls */
    int cut_conn;          /* which connection the byte limits apply to */
    uint64_t cut_after_tx; /* 0 = no limit */
    uint64_t cut_after_rx; /* 0 = no limit */
    size_t max_chunk;      /* 0 = no limit on bytes per send/recv */
    /* observations */
    int connects;          /* successful tcp_connect calls */
    int refused;           /* connects refused by fail_connects */
    int cuts;              /* connections cut */
    /* private */
    hk_platform inner;
    hk_fault_conn conns[HK_FAULT_SLOTS];
} hk_fault;

/* Wrap inner (copied) and fill *out_platform with the wrapper. Knobs start
 * off (cut_conn = HK_FAULT_ANY, no limits). */
void hk_fault_init(hk_fault *f, const hk_platform *inner, hk_platform *out_platform);

/* Cut every connection open now. */
void hk_fault_cut_all(hk_fault *f);

#endif
