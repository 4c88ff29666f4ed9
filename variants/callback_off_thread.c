/* Variant callback_off_thread: the driver's save-packet callback is made from a worker thread
 * (the calling thread waits for it), not on the thread that called save_continue; a driver
 * that relies on the calling context (locks held, IRQL) breaks.
 * Caught by CONTEXT.IRQL.PASSIVE. */
#include <pthread.h>

#include "variant.h"

typedef struct off_thread_call {
    const vmbsave_host_v1 *host;
    vmbsave_channel *channel;
    uint64_t packet_id;
    void *save_buf;
    uint32_t save_buf_size;
    uint32_t *bytes_needed;
    NTSTATUS status;
} off_thread_call;

static void *run_save_packet(void *arg)
{
    off_thread_call *c = arg;
    c->status = c->host->save_packet(c->host->context, c->channel, c->packet_id, c->save_buf,
                                     c->save_buf_size, c->bytes_needed);
    return NULL;
}

static NTSTATUS off_thread_save_packet(const vmbsave_host_v1 *host, vmbsave_channel *channel,
                                       uint64_t packet_id, void *save_buf,
                                       uint32_t save_buf_size, uint32_t *bytes_needed)
{
    off_thread_call c = {host, channel, packet_id, save_buf, save_buf_size, bytes_needed, 0};
    pthread_t worker;
    if (pthread_create(&worker, NULL, run_save_packet, &c) != 0) {
        run_save_packet(&c); /* no thread to be had: the call is still made */
        return c.status;
    }
    pthread_join(worker, NULL);
    return c.status;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-callback_off_thread",
    .save_packet = off_thread_save_packet,
};

VARIANT_ENTRY(def)
