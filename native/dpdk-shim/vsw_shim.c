/*
 * vsw_shim: the few DPDK entry points that P/Invoke cannot reach.
 *
 * DPDK defines its fast-path API (rte_eth_rx_burst, rte_eth_tx_burst, rte_pktmbuf_alloc_bulk,
 * rte_lcore_id, mbuf reference counting, rte_rdtsc) as static inline functions in its headers, so no
 * symbol exists for C# to bind to. This file gives each of them an exported name and does
 * nothing else. Everything DPDK exports itself is called from C# directly (see
 * src/Dataplane/Interop). Struct sizes and field offsets are compile-time facts of the DPDK
 * build; vsw_layout reports them so the C# side never hard-codes a layout.
 *
 * Arguments are blittable only (integers and pointers): the C# side declares these with
 * LibraryImport and SuppressGCTransition, so none of them may block or call back.
 */
#include <stddef.h>
#include <stdint.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define VSW_EXPORT __attribute__((visibility("default")))

/* Version of struct vsw_layout; bumped whenever a field is added, checked by the C# side. */
#define VSW_LAYOUT_VERSION 2

struct vsw_layout {
	uint32_t version;
	uint32_t mbuf_size;
	uint32_t mbuf_buf_addr;
	uint32_t mbuf_data_off;
	uint32_t mbuf_refcnt;
	uint32_t mbuf_nb_segs;
	uint32_t mbuf_port;
	uint32_t mbuf_ol_flags;
	uint32_t mbuf_pkt_len;
	uint32_t mbuf_data_len;
	uint32_t mbuf_hash_rss;
	uint32_t mbuf_buf_len;
	uint32_t mbuf_next;
	uint32_t pktmbuf_headroom;
	uint32_t eth_conf_size;
	uint32_t eth_dev_info_size;
	uint32_t dev_info_max_rx_queues;
	uint32_t dev_info_max_tx_queues;
	uint32_t dev_info_max_mtu;
	uint32_t eth_stats_size;
	uint32_t eth_stats_ipackets;
	uint32_t eth_stats_opackets;
	uint32_t eth_stats_imissed;
	uint32_t eth_stats_ierrors;
	uint32_t eth_stats_oerrors;
	uint32_t eth_stats_rx_nombuf;
	uint32_t max_ethports;
	uint32_t eth_stats_ibytes;
	uint32_t eth_stats_obytes;
};

/* The size of struct vsw_layout as this build compiled it: the C# side checks it against its own
 * copy of the struct before it lets vsw_layout write into one. */
VSW_EXPORT uint32_t vsw_layout_size(void)
{
	return sizeof(struct vsw_layout);
}

VSW_EXPORT void vsw_layout(struct vsw_layout *l)
{
	l->version = VSW_LAYOUT_VERSION;
	l->mbuf_size = sizeof(struct rte_mbuf);
	l->mbuf_buf_addr = offsetof(struct rte_mbuf, buf_addr);
	l->mbuf_data_off = offsetof(struct rte_mbuf, data_off);
	l->mbuf_refcnt = offsetof(struct rte_mbuf, refcnt);
	l->mbuf_nb_segs = offsetof(struct rte_mbuf, nb_segs);
	l->mbuf_port = offsetof(struct rte_mbuf, port);
	l->mbuf_ol_flags = offsetof(struct rte_mbuf, ol_flags);
	l->mbuf_pkt_len = offsetof(struct rte_mbuf, pkt_len);
	l->mbuf_data_len = offsetof(struct rte_mbuf, data_len);
	l->mbuf_hash_rss = offsetof(struct rte_mbuf, hash.rss);
	l->mbuf_buf_len = offsetof(struct rte_mbuf, buf_len);
	l->mbuf_next = offsetof(struct rte_mbuf, next);
	l->pktmbuf_headroom = RTE_PKTMBUF_HEADROOM;
	l->eth_conf_size = sizeof(struct rte_eth_conf);
	l->eth_dev_info_size = sizeof(struct rte_eth_dev_info);
	l->dev_info_max_rx_queues = offsetof(struct rte_eth_dev_info, max_rx_queues);
	l->dev_info_max_tx_queues = offsetof(struct rte_eth_dev_info, max_tx_queues);
	l->dev_info_max_mtu = offsetof(struct rte_eth_dev_info, max_mtu);
	l->eth_stats_size = sizeof(struct rte_eth_stats);
	l->eth_stats_ipackets = offsetof(struct rte_eth_stats, ipackets);
	l->eth_stats_opackets = offsetof(struct rte_eth_stats, opackets);
	l->eth_stats_imissed = offsetof(struct rte_eth_stats, imissed);
	l->eth_stats_ierrors = offsetof(struct rte_eth_stats, ierrors);
	l->eth_stats_oerrors = offsetof(struct rte_eth_stats, oerrors);
	l->eth_stats_rx_nombuf = offsetof(struct rte_eth_stats, rx_nombuf);
	l->max_ethports = RTE_MAX_ETHPORTS;
	l->eth_stats_ibytes = offsetof(struct rte_eth_stats, ibytes);
	l->eth_stats_obytes = offsetof(struct rte_eth_stats, obytes);
}

VSW_EXPORT uint16_t vsw_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

VSW_EXPORT uint16_t vsw_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

VSW_EXPORT int vsw_pktmbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **pkts, unsigned int n)
{
	return rte_pktmbuf_alloc_bulk(pool, pkts, n);
}

VSW_EXPORT unsigned int vsw_lcore_id(void)
{
	return rte_lcore_id();
}

/* Adds delta references to a direct mbuf, so one received frame can be sent on several ports. */
VSW_EXPORT void vsw_mbuf_refcnt_update(struct rte_mbuf *m, int16_t delta)
{
	rte_mbuf_refcnt_update(m, delta);
}

/* The time-stamp counter, as DPDK's own cycle accounting reads it (rte_get_tsc_hz gives its rate). */
VSW_EXPORT uint64_t vsw_rdtsc(void)
{
	return rte_rdtsc();
}
