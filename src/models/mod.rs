//! Networks: layers shared by the torchvision-style models, the students, the supervised
//! teacher, and state-dict loading.

pub mod layers;
pub mod state_dict;
pub mod student;
pub mod teacher;
