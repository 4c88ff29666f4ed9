/* A known-bad KMCL-shaped plug-in: the example with one bug in its VmbChannelSaveContinue,
 * which writes the byte just past SaveBufferSize whenever it fills the buffer (an off-by-one
 * in a bounds check). Caught by SAVE.CONTINUE.NO_OVERRUN; certify reports it under that clause,
 * naming VmbChannelSaveContinue (SPEC.md, "KMCL names"). */
#include <vmbsave/kmcl.h>

#include "example_channel.h"

static NTSTATUS OverrunVmbChannelSaveContinue(VMBCHANNEL Channel, PVOID SaveBuffer,
                                              ULONG SaveBufferSize, PULONG BytesFilled,
                                              PULONG BytesRequired)
{
    NTSTATUS status = VmbChannelSaveContinue(Channel, SaveBuffer, SaveBufferSize, BytesFilled,
                                             BytesRequired);
    if ((status == STATUS_SUCCESS || status == STATUS_BUFFER_OVERFLOW) && SaveBuffer != NULL) {
        PUCHAR past = (PUCHAR)SaveBuffer + SaveBufferSize;
        *past = (UCHAR)~*past;
    }
    return status;
}

static const VMBSAVE_KMCL_METHODS overrun_methods = {
    EXAMPLE_KMCL_METHODS_INIT("vmbsave-kmcl-example-overrun", OverrunVmbChannelSaveContinue),
};

VMBSAVE_KMCL_PLUGIN(&overrun_methods)
