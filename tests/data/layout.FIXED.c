/* A fix that grows a union that live data uses: must be refused. */
union bigname { char name[1026]; int x; };
typedef struct { int a; long b; } pair_t;
struct cache { union bigname *names; pair_t p; };
int use(struct cache *c) { return c->names->x + (int)c->p.b; }
