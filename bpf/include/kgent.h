/* kgent.h: the conventions of C programs that kgentd compiles, loads and decodes.
 *
 * Include it after vmlinux.h (kgentd generates vmlinux.h for this kernel). It brings libbpf's
 * helper headers and the few macros that let kgentd print a program's output without
 * per-program code:
 *
 *   KGENT_RINGBUF(events, struct event, 256 * 1024);
 *       a ring buffer whose records are `struct event`: kgentd decodes each record from the
 *       object's BTF (integers, char arrays as strings, IPv4/IPv6 fields named saddr, daddr,
 *       addr or ip, enums by name) and prints it as one line.
 *   KGENT_PERFBUF(events, struct event);
 *       the same with a perf buffer (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU,
 *       &e, sizeof(e))), for kernels or habits without ring buffers.
 *   KGENT_PRINT_EVERY(1);
 *       kgentd prints the program's maps every second (and once more when it stops);
 *       without it, maps are printed once, when the program stops.
 *   kgent_log2(v)
 *       the log2 slot of v; a map whose name contains "hist", keyed by that slot, is drawn as
 *       a log2 histogram like bpftrace's hist().
 *
 * Hash and array maps are printed when the program stops: counts sorted, largest last.
 */
#ifndef KGENT_H
#define KGENT_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define KGENT_RINGBUF(name, record_type, bytes)          \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_RINGBUF);      \
		__uint(max_entries, bytes);              \
		__type(value, record_type);              \
	} name SEC(".maps")

/* `record` is not a libbpf map attribute: aya skips it and kgentd reads it from BTF. */
#define KGENT_PERFBUF(name, record_type)                       \
	struct {                                               \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);   \
		__uint(key_size, sizeof(__u32));               \
		__uint(value_size, sizeof(__u32));             \
		__type(record, record_type);                   \
	} name SEC(".maps")

#define KGENT_PRINT_EVERY(seconds) \
	const volatile __u32 kgent_print_every_s SEC(".rodata") = (seconds)

static __always_inline __u32 kgent_log2(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

#endif
