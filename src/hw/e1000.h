/* Intel 82540EM (e1000) Ethernet controller: --net SPEC,model=e1000. */
#ifndef WIRT_HW_E1000_H
#define WIRT_HW_E1000_H

struct vm;
struct net_backend;

/* A card on the PCI bus in front of nb, which it owns from here on (also
 * when it fails: 0 or -errno). */
int e1000_create(struct vm *vm, struct net_backend *nb);

#endif
