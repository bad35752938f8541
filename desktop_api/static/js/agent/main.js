// The agent desk's entry point. Each import is a part of the page; a part subscribes to the
// desk's bus (desk.js) when it loads, so loading it is all it takes to add it. A feature module
// goes in this list (see docs/frontend.md).
import './state.js';
import './connection.js';
import './offers.js';
import './conversation.js';
import './call.js';
import './whispers.js';
// The desk's features (issue 12): each mounts its own part and listens on the bus.
import './options.js';
import './customer.js';
import './inbox.js';
import './notify.js';
import './canned.js';
import './typing.js';
import './picker.js';
import './consult.js';
import './shortcuts.js';
import './campaigns.js';
import './knowledge.js';
import {boot} from './session.js';

boot();
