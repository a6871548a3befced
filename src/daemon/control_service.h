#ifndef ECHOD_CONTROL_SERVICE_H
#define ECHOD_CONTROL_SERVICE_H

#include "service.h"

/*
 * The control socket (FileDescriptorName=control, AF_UNIX stream): frames
 * (src/proto/frame.h) carrying one command line each way, answered by
 * control_commands.c. Only root, echod's own user and members of its group
 * may connect (SO_PEERCRED, SO_PEERGROUPS).
 */
extern const struct service_ops control_service_ops;

#endif
